"""The request workflow as a transition table. Pure: no database, no clock.

::

    submitted ─acknowledge─▶ acknowledged ─approve─▶ approved ─start─▶ in progress ─finish─▶ done
                                  │   └─deny─▶ denied ─appeal (once)─▶ appealed ─approve/deny─▶
                                  └─start (feature requests: no approval)─▶ in progress
    approved / in progress (and acknowledged feature requests) ─ask─▶ waiting ─answer─▶ back
    in progress ─finish─▶ done: by the system for suspension/resume/teardown (their
    operation succeeded) and new instances (provisioning saw it live); by DevOps otherwise
    in progress ─fail (the operation failed or was cancelled)─▶ approved
    submitted / acknowledged / approved / appealed / waiting ─withdraw─▶ withdrawn

Who may take a transition is part of the table: the requester, a handler (DevOps/Admin) or
the system (the approval engine's decision, an operation's end). "Only once" for appeals
and "not the requester" for approvals are the database's and the approval engine's rules;
this table says only which moves exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mi_requests.choices import (
    APPROVED_KINDS,
    OPERATION_KINDS,
    SELF_ENDING_KINDS,
    RequestKind,
    RequestState,
)


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    APPROVE = "approve"
    DENY = "deny"
    APPEAL = "appeal"
    ASK = "ask"
    ANSWER = "answer"
    START = "start"
    FINISH = "finish"
    FAIL = "fail"
    WITHDRAW = "withdraw"


class By(StrEnum):
    REQUESTER = "requester"
    HANDLER = "handler"
    SYSTEM = "system"


class Scope(StrEnum):
    """Which kinds a row applies to."""

    ALL = "all"
    APPROVAL = "approval"  # kinds a manager approves
    NO_APPROVAL = "no_approval"  # feature requests
    OPERATION = "operation"  # kinds executed by a lifecycle operation
    SELF_ENDING = "self_ending"  # kinds that end on their own (operation, instance live)
    MANUAL = "manual"  # kinds whose work DevOps records by hand


# The state before the question: "answer" returns there.
PREVIOUS = "previous"

S = RequestState


@dataclass(frozen=True)
class Transition:
    source: RequestState
    action: Action
    target: RequestState | str
    by: By
    scope: Scope = Scope.ALL


TABLE: tuple[Transition, ...] = (
    Transition(S.SUBMITTED, Action.ACKNOWLEDGE, S.ACKNOWLEDGED, By.HANDLER),
    Transition(S.ACKNOWLEDGED, Action.APPROVE, S.APPROVED, By.SYSTEM, Scope.APPROVAL),
    Transition(S.ACKNOWLEDGED, Action.DENY, S.DENIED, By.SYSTEM, Scope.APPROVAL),
    Transition(S.DENIED, Action.APPEAL, S.APPEALED, By.REQUESTER, Scope.APPROVAL),
    Transition(S.APPEALED, Action.APPROVE, S.APPROVED, By.SYSTEM, Scope.APPROVAL),
    Transition(S.APPEALED, Action.DENY, S.DENIED, By.SYSTEM, Scope.APPROVAL),
    Transition(S.ACKNOWLEDGED, Action.ASK, S.WAITING, By.HANDLER, Scope.NO_APPROVAL),
    Transition(S.APPROVED, Action.ASK, S.WAITING, By.HANDLER),
    Transition(S.IN_PROGRESS, Action.ASK, S.WAITING, By.HANDLER),
    Transition(S.WAITING, Action.ANSWER, PREVIOUS, By.REQUESTER),
    Transition(S.APPROVED, Action.START, S.IN_PROGRESS, By.HANDLER, Scope.APPROVAL),
    Transition(S.ACKNOWLEDGED, Action.START, S.IN_PROGRESS, By.HANDLER, Scope.NO_APPROVAL),
    Transition(S.IN_PROGRESS, Action.FINISH, S.DONE, By.HANDLER, Scope.MANUAL),
    Transition(S.IN_PROGRESS, Action.FINISH, S.DONE, By.SYSTEM, Scope.SELF_ENDING),
    Transition(S.IN_PROGRESS, Action.FAIL, S.APPROVED, By.SYSTEM, Scope.OPERATION),
    Transition(S.SUBMITTED, Action.WITHDRAW, S.WITHDRAWN, By.REQUESTER),
    Transition(S.ACKNOWLEDGED, Action.WITHDRAW, S.WITHDRAWN, By.REQUESTER),
    Transition(S.APPROVED, Action.WITHDRAW, S.WITHDRAWN, By.REQUESTER),
    Transition(S.APPEALED, Action.WITHDRAW, S.WITHDRAWN, By.REQUESTER),
    Transition(S.WAITING, Action.WITHDRAW, S.WITHDRAWN, By.REQUESTER),
)


class TransitionRefused(Exception):
    """No such move; ``str()`` is the sentence to show."""


def _in_scope(scope: Scope, kind: RequestKind) -> bool:
    if scope == Scope.ALL:
        return True
    if scope == Scope.APPROVAL:
        return kind in APPROVED_KINDS
    if scope == Scope.NO_APPROVAL:
        return kind not in APPROVED_KINDS
    if scope == Scope.OPERATION:
        return kind in OPERATION_KINDS
    if scope == Scope.SELF_ENDING:
        return kind in SELF_ENDING_KINDS
    return kind not in SELF_ENDING_KINDS  # MANUAL


_PHRASES = {
    Action.ACKNOWLEDGE: "acknowledged",
    Action.APPROVE: "approved",
    Action.DENY: "denied",
    Action.APPEAL: "appealed",
    Action.ASK: "put on hold with a question",
    Action.ANSWER: "answered",
    Action.START: "started",
    Action.FINISH: "marked done",
    Action.FAIL: "failed back",
    Action.WITHDRAW: "withdrawn",
}


def next_state(
    state: RequestState | str,
    action: Action | str,
    *,
    kind: RequestKind | str,
    by: By | str,
    previous: RequestState | str | None = None,
) -> RequestState:
    """The state after ``action`` taken by ``by`` on a ``kind`` request in ``state``.

    ``previous`` is the state a waiting request returns to on its answer. Raises
    :class:`TransitionRefused` with the reason when the move does not exist."""
    state, action, kind, by = RequestState(state), Action(action), RequestKind(kind), By(by)
    rows = [
        row
        for row in TABLE
        if row.source == state and row.action == action and _in_scope(row.scope, kind)
    ]
    label = state.label.lower()
    if not rows:
        raise TransitionRefused(
            f"A {kind.label.lower()} request that is {label} cannot be {_PHRASES[action]}."
        )
    row = next((row for row in rows if row.by == by), None)
    if row is None:
        who = " or ".join(sorted({r.by.value for r in rows}))
        raise TransitionRefused(f"Only the {who} can do that to this request.")
    if row.target == PREVIOUS:
        if previous is None:
            raise TransitionRefused("This request does not remember where it was before.")
        return RequestState(previous)
    return RequestState(row.target)


def actions_for(state: RequestState | str, *, kind: RequestKind | str, by: By | str) -> set[Action]:
    """The actions ``by`` may take on a ``kind`` request in ``state`` (what a page offers)."""
    state, kind, by = RequestState(state), RequestKind(kind), By(by)
    return {
        row.action
        for row in TABLE
        if row.source == state and row.by == by and _in_scope(row.scope, kind)
    }

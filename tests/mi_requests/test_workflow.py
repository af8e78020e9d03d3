"""The request workflow's transition table, table-driven: a kind, a state, an action and
who takes it → the next state, or a refusal with its reason."""

from __future__ import annotations

import pytest

from mi_requests.choices import RequestKind, RequestState
from mi_requests.workflow import Action, By, TransitionRefused, actions_for, next_state

K, S, A = RequestKind, RequestState, Action
REQ, HND, SYS = By.REQUESTER, By.HANDLER, By.SYSTEM


@pytest.mark.parametrize(
    ("kind", "state", "action", "by", "expected"),
    [
        pytest.param(K.SUSPENSION, S.SUBMITTED, A.ACKNOWLEDGE, HND, S.ACKNOWLEDGED, id="ack"),
        pytest.param(K.SUSPENSION, S.ACKNOWLEDGED, A.APPROVE, SYS, S.APPROVED, id="approved"),
        pytest.param(K.TEARDOWN, S.ACKNOWLEDGED, A.DENY, SYS, S.DENIED, id="denied"),
        pytest.param(K.TEARDOWN, S.DENIED, A.APPEAL, REQ, S.APPEALED, id="appeal"),
        pytest.param(K.TEARDOWN, S.APPEALED, A.APPROVE, SYS, S.APPROVED, id="appeal upheld"),
        pytest.param(K.TEARDOWN, S.APPEALED, A.DENY, SYS, S.DENIED, id="appeal denied"),
        pytest.param(K.SUSPENSION, S.APPROVED, A.START, HND, S.IN_PROGRESS, id="run"),
        pytest.param(K.SUSPENSION, S.IN_PROGRESS, A.FINISH, SYS, S.DONE, id="operation done"),
        pytest.param(K.SUSPENSION, S.IN_PROGRESS, A.FAIL, SYS, S.APPROVED, id="op failed"),
        pytest.param(K.TRIAL_EXTENSION, S.IN_PROGRESS, A.FINISH, HND, S.DONE, id="manual done"),
        pytest.param(K.NEW_INSTANCE, S.IN_PROGRESS, A.FINISH, SYS, S.DONE, id="instance live"),
        pytest.param(K.FEATURE, S.IN_PROGRESS, A.FINISH, HND, S.DONE, id="feature done"),
        pytest.param(K.FEATURE, S.ACKNOWLEDGED, A.START, HND, S.IN_PROGRESS, id="feature start"),
        pytest.param(K.FEATURE, S.ACKNOWLEDGED, A.ASK, HND, S.WAITING, id="feature question"),
        pytest.param(K.SUSPENSION, S.APPROVED, A.ASK, HND, S.WAITING, id="question"),
        pytest.param(K.SUSPENSION, S.IN_PROGRESS, A.ASK, HND, S.WAITING, id="question later"),
        pytest.param(K.SUSPENSION, S.SUBMITTED, A.WITHDRAW, REQ, S.WITHDRAWN, id="withdraw"),
        pytest.param(K.SUSPENSION, S.WAITING, A.WITHDRAW, REQ, S.WITHDRAWN, id="withdraw wait"),
        pytest.param(K.TEARDOWN, S.APPEALED, A.WITHDRAW, REQ, S.WITHDRAWN, id="withdraw appeal"),
    ],
)
def test_the_moves_that_exist(kind, state, action, by, expected):
    # given a request of `kind` in `state`; when `by` takes `action`; then it is `expected`
    assert next_state(state, action, kind=kind, by=by) == expected


@pytest.mark.parametrize(
    ("kind", "state", "action", "by", "reason"),
    [
        pytest.param(K.SUSPENSION, S.SUBMITTED, A.START, HND, "cannot be started", id="no skip"),
        pytest.param(
            K.SUSPENSION,
            S.ACKNOWLEDGED,
            A.START,
            HND,
            "cannot be started",
            id="not before approval",
        ),
        pytest.param(
            K.FEATURE,
            S.ACKNOWLEDGED,
            A.APPROVE,
            SYS,
            "cannot be approved",
            id="features need no approval",
        ),
        pytest.param(
            K.SUSPENSION,
            S.SUBMITTED,
            A.ACKNOWLEDGE,
            REQ,
            "Only the handler",
            id="requester cannot acknowledge",
        ),
        pytest.param(
            K.SUSPENSION,
            S.ACKNOWLEDGED,
            A.APPROVE,
            HND,
            "Only the system",
            id="only the approval engine approves",
        ),
        pytest.param(
            K.SUSPENSION,
            S.IN_PROGRESS,
            A.FINISH,
            HND,
            "Only the system",
            id="operation kinds end with their operation",
        ),
        pytest.param(
            K.NEW_INSTANCE,
            S.IN_PROGRESS,
            A.FAIL,
            SYS,
            "cannot be failed back",
            id="no operation to fail",
        ),
        pytest.param(
            K.SUSPENSION,
            S.IN_PROGRESS,
            A.WITHDRAW,
            REQ,
            "cannot be withdrawn",
            id="no withdrawing once running",
        ),
        pytest.param(K.SUSPENSION, S.DONE, A.WITHDRAW, REQ, "cannot be withdrawn", id="done"),
        pytest.param(
            K.SUSPENSION, S.DENIED, A.WITHDRAW, REQ, "cannot be withdrawn", id="denied is closed"
        ),
        pytest.param(
            K.SUSPENSION,
            S.ACKNOWLEDGED,
            A.ASK,
            HND,
            "cannot be put on hold",
            id="no question while the manager decides",
        ),
        pytest.param(
            K.SUSPENSION, S.APPEALED, A.APPEAL, REQ, "cannot be appealed", id="appeal of an appeal"
        ),
        pytest.param(
            K.SUSPENSION,
            S.WITHDRAWN,
            A.ACKNOWLEDGE,
            HND,
            "cannot be acknowledged",
            id="withdrawn is final",
        ),
    ],
)
def test_the_moves_that_do_not(kind, state, action, by, reason):
    # given / when / then: refused, saying why
    with pytest.raises(TransitionRefused, match=reason):
        next_state(state, action, kind=kind, by=by)


def test_an_answer_goes_back_where_the_question_came_from():
    for previous in (S.APPROVED, S.IN_PROGRESS, S.ACKNOWLEDGED):
        # given a waiting request asked in `previous`; when answered; then back there
        assert next_state(S.WAITING, A.ANSWER, kind=K.SUSPENSION, by=REQ, previous=previous) == (
            previous
        )
    with pytest.raises(TransitionRefused, match="does not remember"):
        next_state(S.WAITING, A.ANSWER, kind=K.SUSPENSION, by=REQ)


def test_the_actions_a_page_offers():
    # given requests in some states; then each party is offered exactly its moves
    assert actions_for(S.SUBMITTED, kind=K.TEARDOWN, by=HND) == {A.ACKNOWLEDGE}
    assert actions_for(S.SUBMITTED, kind=K.TEARDOWN, by=REQ) == {A.WITHDRAW}
    assert actions_for(S.APPROVED, kind=K.TEARDOWN, by=HND) == {A.START, A.ASK}
    assert actions_for(S.DENIED, kind=K.TEARDOWN, by=REQ) == {A.APPEAL}
    assert actions_for(S.DONE, kind=K.TEARDOWN, by=REQ) == set()
    assert actions_for(S.ACKNOWLEDGED, kind=K.FEATURE, by=HND) == {A.START, A.ASK}

"""Subject kinds and who hears their outcome.

The app that owns a subject (access grants, customer requests) registers its kind once, in its
``AppConfig.ready()``, with the function to call when a request about one of its objects is
decided (approved, denied, expired or withdrawn). Approvals never imports those apps.

The handler runs after the decision committed (``transaction.on_commit``), once per decision,
with the decided request re-read from the database. It must be safe to run twice (a task it
queues may be retried); an exception in it is logged and does not undo the decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mi_admin.approvals.models import ApprovalRequest

logger = logging.getLogger(__name__)

DecisionHandler = Callable[["ApprovalRequest"], None]
# What a reviewer weighs, as (label, text) lines for the Slack message (the approval page
# shows the richer panel the subject's app registers in mi_admin.ui.extensions).
ContextLines = list[tuple[str, str]]
ContextProvider = Callable[["ApprovalRequest"], ContextLines]


@dataclass(frozen=True)
class SubjectKind:
    kind: str
    label: str
    on_decided: DecisionHandler
    review_context: ContextProvider | None = None


_KINDS: dict[str, SubjectKind] = {}


def register_subject(
    kind: str,
    *,
    label: str,
    on_decided: DecisionHandler,
    review_context: ContextProvider | None = None,
) -> None:
    """Declare a subject kind; registering the same kind again replaces its handler.
    ``review_context(request)`` gives the reviewer's context lines for the Slack message."""
    _KINDS[kind] = SubjectKind(
        kind=kind, label=label, on_decided=on_decided, review_context=review_context
    )


def unregister_subject(kind: str) -> None:
    _KINDS.pop(kind, None)


def subject_kind(kind: str) -> SubjectKind | None:
    return _KINDS.get(kind)


def subject_review_context(request: ApprovalRequest) -> ContextLines:
    """The subject app's context lines for ``request``; none when it gives none or fails
    (the message still goes out, with its link to the page)."""
    registered = _KINDS.get(request.subject_kind)
    if registered is None or registered.review_context is None:
        return []
    try:
        return registered.review_context(request)
    except Exception:
        logger.exception(
            "approval #%s: review context of %s failed", request.pk, request.subject_kind
        )
        return []


def approval_decided(request_pk: int) -> None:
    """Tell the subject's app that request ``request_pk`` was decided (after commit)."""
    from mi_admin.approvals.models import ApprovalRequest

    request = ApprovalRequest.objects.select_related("requester").get(pk=request_pk)
    registered = _KINDS.get(request.subject_kind)
    if registered is None:
        logger.warning(
            "approval #%s decided (%s) for unregistered subject kind %s",
            request.pk,
            request.state,
            request.subject_kind,
        )
        return
    registered.on_decided(request)


# Where a subject's own page is: the inbox and the approval page link to it. Kept apart from
# register_subject so an app adds it without changing how it registers its handler.
SubjectUrl = Callable[[str], str]
_URLS: dict[str, SubjectUrl] = {}


def register_subject_url(kind: str, url_for: SubjectUrl) -> None:
    """``url_for(subject_id)`` is the path of the subject's page (e.g. ``/requests/17/``)."""
    _URLS[kind] = url_for


def subject_url(kind: str, subject_id: str) -> str:
    """The subject's page, or "" when its app registered none (or answering failed)."""
    url_for = _URLS.get(kind)
    if url_for is None:
        return ""
    try:
        return url_for(subject_id)
    except Exception:
        logger.exception("subject url of %s:%s failed", kind, subject_id)
        return ""


def subject_label(kind: str) -> str:
    """The subject kind's label ("Access grant", "Request"), or the kind itself."""
    registered = _KINDS.get(kind)
    return registered.label if registered is not None else kind

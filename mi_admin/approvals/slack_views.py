"""Slack's interactivity endpoint: an Approve/Deny button press on a reviewer message.

Public (Slack calls it, no session) and CSRF-exempt: Slack's request signature is the
authentication, checked before anything is read (:func:`slack.verify_request`).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mi_admin.accounts.models import User
from mi_admin.accounts.rules import public
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.services import ApprovalError, approval_review_submit
from mi_admin.approvals.slack import (
    ButtonPress,
    SlackRequestRefused,
    parse_button_press,
    response_url_allowed,
    verify_request,
)
from mi_admin.audit.services import audit_record_failure
from mi_admin.queue import task_enqueue

logger = logging.getLogger(__name__)

REPLY_TASK = "mi_admin.approvals.tasks.approval_slack_reply_task"


@public
@csrf_exempt
@require_POST
def slack_interactivity(request: HttpRequest) -> HttpResponse:
    if not settings.SLACK_APPROVALS_ENABLED:
        raise Http404("Slack approvals are off.")
    try:
        verify_request(
            secret=settings.SLACK_SIGNING_SECRET,
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            given=request.headers.get("X-Slack-Signature", ""),
            body=request.body,
        )
    except SlackRequestRefused as exc:
        logger.warning("slack interactivity refused: %s", exc)
        audit_record_failure(action="slack.request_refused", details={"reason": str(exc)})
        return HttpResponse("Refused.", status=401, content_type="text/plain")
    try:
        press = parse_button_press(request.POST.get("payload", ""))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    reviewer = User.objects.filter(slack_user_id=press.slack_user_id, is_active=True).first()
    if reviewer is None:
        return _answer(
            press,
            refusal="Your Slack account is not linked to an MI Admin person, so this button "
            "cannot act for you: review in MI Admin, or ask an admin to set your Slack user id.",
        )
    approval = ApprovalRequest.objects.filter(pk=press.request_pk).first()
    if approval is None:
        return _answer(press, refusal=f"There is no approval request #{press.request_pk}.")
    try:
        approval_review_submit(
            request=approval,
            reviewer=reviewer,
            decision=press.decision,
            comment="",
            via="slack",
        )
    except ApprovalError as exc:
        return _answer(press, refusal=f"Not recorded: {exc}")
    return _answer(press, request_pk=approval.pk)


def _answer(
    press: ButtonPress, *, request_pk: int | None = None, refusal: str = ""
) -> HttpResponse:
    """Acknowledge at once (Slack waits 3 s) and send the answer through the press's
    ``response_url`` from a task: a refusal only the presser sees, or the original message
    updated with the outcome. A URL outside SLACK_RESPONSE_URL_ORIGINS gets nothing."""
    if not press.response_url:
        logger.info("slack press on #%s came without a response_url", press.request_pk)
    elif not response_url_allowed(press.response_url):
        logger.warning("slack press on #%s: response_url not allowed", press.request_pk)
        audit_record_failure(
            action="slack.response_url_refused",
            details={"request": press.request_pk, "slack_user": press.slack_user_id},
        )
    else:
        try:
            task_enqueue(REPLY_TASK, press.response_url, request_pk, refusal)
        except Exception:
            # The decision stands; only the message update is lost (the page shows it).
            logger.warning("slack reply for #%s not queued", press.request_pk, exc_info=True)
    return HttpResponse(status=200)

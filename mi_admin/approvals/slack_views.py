"""Slack's interactivity endpoint: an Approve/Deny button press on a reviewer message.

Public (Slack calls it, no session) and CSRF-exempt: Slack's request signature is the
authentication, checked before anything is read (:func:`slack.verify_request`).
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from mi_admin.accounts.models import User
from mi_admin.accounts.rules import public
from mi_admin.approvals.models import ApprovalRequest
from mi_admin.approvals.services import ApprovalError, approval_review_submit
from mi_admin.approvals.slack import (
    SlackRequestRefused,
    ephemeral,
    parse_button_press,
    verify_request,
)
from mi_admin.audit.services import audit_record_failure

logger = logging.getLogger(__name__)


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
        return JsonResponse(
            ephemeral(
                "Your Slack account is not linked to an MI Admin person, so this button "
                "cannot act for you: review in MI Admin, or ask an admin to set your Slack "
                "user id."
            )
        )
    approval = ApprovalRequest.objects.filter(pk=press.request_pk).first()
    if approval is None:
        return JsonResponse(ephemeral(f"There is no approval request #{press.request_pk}."))
    try:
        outcome = approval_review_submit(
            request=approval,
            reviewer=reviewer,
            decision=press.decision,
            comment="",
            via="slack",
        )
    except ApprovalError as exc:
        return JsonResponse(ephemeral(f"Not recorded: {exc}"))
    state = outcome.request.get_state_display().lower()
    return JsonResponse(
        ephemeral(
            f"Your {press.decision} of #{approval.pk} is recorded; the request is {state}."
            if outcome.decided
            else f"Your {press.decision} of #{approval.pk} is recorded; it waits for more reviews."
        )
    )

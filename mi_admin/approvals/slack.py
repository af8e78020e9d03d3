"""Approve from Slack: the reviewer message with its buttons, Slack's request signature, and
the button press turned into a review through :func:`services.approval_review_submit`.

Slack signs every interactivity request: ``X-Slack-Signature`` is ``v0=`` + the hex
HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}`` under the app's signing secret.
A request is accepted only with a matching signature, a timestamp within
:data:`MAX_SKEW_SECONDS` of now, and a (timestamp, signature) pair not seen before in that
window (remembered in the cache), so a forged, stale or replayed request changes nothing.
The Slack member is mapped to an MI Admin person by ``User.slack_user_id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from mi_admin.alerts.base import post_json
from mi_admin.alerts.slack import escape
from mi_admin.approvals.choices import RequestState
from mi_admin.approvals.models import ApprovalRequest

logger = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 300
REPLAY_KEY_PREFIX = "slack-interactivity-seen:"
ACTION_APPROVE = "approve"
ACTION_DENY = "deny"
ACTIONS = {ACTION_APPROVE: "approve", ACTION_DENY: "deny"}


class SlackRequestRefused(Exception):
    """The request is not a genuine, fresh Slack request; ``str()`` says why (for the log)."""


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """Slack's ``X-Slack-Signature`` value for ``body`` sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify_request(
    *, secret: str, timestamp: str, given: str, body: bytes, now: float | None = None
) -> None:
    """Raise :class:`SlackRequestRefused` unless the request is signed, fresh and new."""
    if not secret:
        raise SlackRequestRefused("no signing secret is configured")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SlackRequestRefused("missing or malformed timestamp") from None
    now = time.time() if now is None else now
    if abs(now - sent_at) > MAX_SKEW_SECONDS:
        raise SlackRequestRefused("timestamp outside the 5-minute window")
    expected = signature(secret=secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise SlackRequestRefused("signature mismatch")
    seen = hashlib.sha256(f"{timestamp}:{given}".encode()).hexdigest()
    # add() is atomic in Redis (SET NX): of two identical requests at once, one wins.
    if not cache.add(REPLAY_KEY_PREFIX + seen, 1, timeout=MAX_SKEW_SECONDS * 2):
        raise SlackRequestRefused("replayed request")


@dataclass(frozen=True)
class ButtonPress:
    slack_user_id: str
    decision: str
    request_pk: int


def parse_button_press(payload_json: str) -> ButtonPress:
    """The ``block_actions`` payload → who pressed which button on which request."""
    try:
        payload = json.loads(payload_json)
        if payload.get("type") != "block_actions":
            raise ValueError("not a block_actions payload")
        action = payload["actions"][0]
        decision = ACTIONS[action["action_id"]]
        return ButtonPress(
            slack_user_id=str(payload["user"]["id"]),
            decision=decision,
            request_pk=int(action["value"]),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"Not an approval button press: {exc}") from None


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the person who pressed the button sees."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def reviewer_message(
    *,
    request: ApprovalRequest,
    link: str,
    instance: str = "",
    level: str = "",
    justification: str = "",
) -> dict[str, Any]:
    """The Block Kit message reviewers get: the context and Approve/Deny buttons whose value
    is the approval request's id."""
    requester = request.requester
    who = f"{requester} ({requester.email})" if requester.email else str(requester)
    headline = escape(f"Approval #{request.pk}: {request.subject_summary}")
    fields = [("Requester", who)]
    if instance:
        fields.append(("Instance", instance))
    if level:
        fields.append(("Level", level))
    fields.append(("Expires", request.expires_at.strftime("%Y-%m-%d %H:%M UTC")))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{headline}*"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{escape(value)}"} for name, value in fields
            ],
        },
    ]
    if justification:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Justification*\n{escape(justification)}"},
            }
        )
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open in MI Admin>"}}
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": f"approval-{request.pk}",
            "elements": [
                {
                    "type": "button",
                    "action_id": ACTION_APPROVE,
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                    "value": str(request.pk),
                },
                {
                    "type": "button",
                    "action_id": ACTION_DENY,
                    "text": {"type": "plain_text", "text": "Deny"},
                    "style": "danger",
                    "value": str(request.pk),
                },
            ],
        }
    )
    return {"text": headline, "blocks": blocks}


def reviewers_notify(*, request_pk: int) -> bool:
    """Post the reviewer message of a pending request to the Slack webhook; False if Slack
    approvals are off, no webhook is set, or the request is no longer pending.

    Raises :class:`~mi_admin.alerts.base.AlertTransientError` for a failure worth retrying.
    """
    if not (settings.SLACK_APPROVALS_ENABLED and settings.SLACK_WEBHOOK_URL):
        return False
    request = (
        ApprovalRequest.objects.select_related("requester")
        .filter(pk=request_pk, state=RequestState.PENDING)
        .first()
    )
    if request is None:
        return False
    link = settings.SITE_URL.rstrip("/") + reverse(
        "approvals:request_detail", kwargs={"pk": request.pk}
    )
    post_json(
        notifier="slack",
        url=settings.SLACK_WEBHOOK_URL,
        payload=reviewer_message(request=request, link=link),
        timeout=settings.ALERT_HTTP_TIMEOUT,
    )
    logger.info("approval #%s: reviewers told on Slack", request.pk)
    return True

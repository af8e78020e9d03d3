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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from mi_admin.alerts.base import post_json, truncate
from mi_admin.alerts.slack import SECTION_LIMIT, escape
from mi_admin.approvals.choices import Decision, RequestState
from mi_admin.approvals.models import ApprovalRequest, Review
from mi_admin.approvals.registry import ContextLines, subject_review_context
from mi_admin.ui.times import when_text

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
    # Where Slack takes our answer (it ignores the HTTP response body of a button press).
    response_url: str = ""


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
            response_url=str(payload.get("response_url") or ""),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"Not an approval button press: {exc}") from None


def ephemeral(text: str) -> dict[str, Any]:
    """A reply only the person who pressed the button sees."""
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


def _subject_blocks(
    *,
    request: ApprovalRequest,
    link: str,
    instance: str,
    level: str,
    justification: str,
    context: Sequence[tuple[str, str]],
) -> tuple[str, list[dict[str, Any]]]:
    """The headline and the blocks every message about ``request`` opens with: who asks,
    the subject's context lines, and the link to the approval page."""
    requester = request.requester
    who = f"{requester} ({requester.email})" if requester.email else str(requester)
    headline = escape(f"Approval #{request.pk}: {request.subject_summary}")
    fields = [("Requester", who)]
    if instance:
        fields.append(("Instance", instance))
    if level:
        fields.append(("Level", level))
    fields.append(("Expires", when_text(request.expires_at)))
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
    if context:
        lines = "\n".join(f"*{escape(name)}*: {escape(value)}" for name, value in context)
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": truncate(lines, SECTION_LIMIT)}}
        )
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|Open in MI Admin>"}}
    )
    return headline, blocks


def _buttons(request: ApprovalRequest) -> dict[str, Any]:
    return {
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


def reviewer_message(
    *,
    request: ApprovalRequest,
    link: str,
    instance: str = "",
    level: str = "",
    justification: str = "",
    context: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """The Block Kit message reviewers get: the context and Approve/Deny buttons whose value
    is the approval request's id."""
    headline, blocks = _subject_blocks(
        request=request,
        link=link,
        instance=instance,
        level=level,
        justification=justification,
        context=context,
    )
    blocks.append(_buttons(request))
    return {"text": headline, "blocks": blocks}


def _review_line(review: Review) -> str:
    when = when_text(review.created_at)
    if review.decision == Decision.APPROVE:
        line = f":white_check_mark: *Approved* by {review.reviewer} at {when}"
    else:
        line = f":no_entry: *Denied* by {review.reviewer} at {when}"
    return escape(line) + (f": {escape(review.comment)}" if review.comment else "")


def outcome_message(
    *, request: ApprovalRequest, reviews: Sequence[Review], link: str, context: ContextLines
) -> dict[str, Any]:
    """The reviewer message as it reads after a press: who approved or denied and when, and
    where the request stands; the buttons stay only while it is still pending (Slack
    replaces the original message with this, for everyone in the channel)."""
    headline, blocks = _subject_blocks(
        request=request, link=link, instance="", level="", justification="", context=context
    )
    lines = [_review_line(review) for review in reviews]
    state = request.get_state_display()
    if request.state == RequestState.PENDING:
        lines.append(f"Waiting for more reviews (step {request.current_step}).")
    else:
        lines.append(f"*{escape(state)}*.")
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate("\n".join(lines), SECTION_LIMIT)},
        }
    )
    if request.state == RequestState.PENDING:
        blocks.append(_buttons(request))
    return {"replace_original": True, "text": f"{headline} ({state})", "blocks": blocks}


def response_url_allowed(url: str) -> bool:
    """Whether ``url``'s origin (scheme://host[:port]) is in ``SLACK_RESPONSE_URL_ORIGINS``
    (hooks.slack.com in production), so a payload cannot make us POST anywhere else."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    return origin in {
        allowed.rstrip("/").lower() for allowed in settings.SLACK_RESPONSE_URL_ORIGINS
    }


def _link_to(request_pk: int) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(
        "approvals:request_detail", kwargs={"pk": request_pk}
    )


def reply_post(*, response_url: str, request_pk: int | None = None, refusal: str = "") -> bool:
    """Answer a button press through its ``response_url``: ``refusal`` as an ephemeral note
    to the presser, else the original message replaced by the request's outcome (read now,
    so a late retry shows the latest state). False when the URL is not allowed.

    Raises :class:`~mi_admin.alerts.base.AlertTransientError` for a failure worth retrying.
    """
    if not response_url_allowed(response_url):
        logger.warning("slack reply refused: response_url outside SLACK_RESPONSE_URL_ORIGINS")
        return False
    payload: dict[str, Any]
    if refusal or request_pk is None:
        payload = ephemeral(refusal or "Not recorded.")
    else:
        request = ApprovalRequest.objects.select_related("requester").get(pk=request_pk)
        reviews = list(request.reviews.select_related("reviewer").order_by("created_at", "pk"))
        payload = outcome_message(
            request=request,
            reviews=reviews,
            link=_link_to(request.pk),
            context=subject_review_context(request),
        )
    post_json(
        notifier="slack", url=response_url, payload=payload, timeout=settings.ALERT_HTTP_TIMEOUT
    )
    return True


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
    post_json(
        notifier="slack",
        url=settings.SLACK_WEBHOOK_URL,
        payload=reviewer_message(
            request=request,
            link=_link_to(request.pk),
            context=subject_review_context(request),
        ),
        timeout=settings.ALERT_HTTP_TIMEOUT,
    )
    logger.info("approval #%s: reviewers told on Slack", request.pk)
    return True

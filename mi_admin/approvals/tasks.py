"""Celery tasks of the approval engine: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from mi_admin.alerts.base import AlertTransientError
from mi_admin.approvals.services import approval_requests_expire
from mi_admin.approvals.slack import reply_post, reviewers_notify


@shared_task(acks_late=True)
def approval_requests_expire_task() -> int:
    """Expire pending requests past their time (beat, every minute). A repeat finds none."""
    return approval_requests_expire()


@shared_task(
    acks_late=True,
    autoretry_for=(AlertTransientError,),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def approval_slack_notify_task(request_pk: int) -> bool:
    """Tell the reviewers on Slack (opt-in). A repeat posts the message again: a duplicate
    message is harmless, a lost one is not; a decided request is not announced."""
    return reviewers_notify(request_pk=request_pk)


@shared_task(
    acks_late=True,
    autoretry_for=(AlertTransientError,),
    retry_backoff=True,
    retry_backoff_max=60,
    # Slack honours a response_url up to five times within 30 minutes.
    max_retries=4,
)
def approval_slack_reply_task(response_url: str, request_pk: int | None, refusal: str) -> bool:
    """Answer a Slack button press through its response_url (queued by the interactivity
    view, which has acknowledged already). A repeat replaces the message with the same
    outcome (read at send time) or repeats the same note: harmless."""
    return reply_post(response_url=response_url, request_pk=request_pk, refusal=refusal)

"""SLA alerts of requests: a warning to the handler at 50 % and 75 % of the resolution time,
a page at breach (and when the 24-hour response passes unacknowledged), once each.

``request_sla_alerts_record`` inserts one :class:`RequestSlaAlert` row per reached level;
the unique (request, level) index makes a second beat run, even at the same moment, insert
nothing. ``request_sla_alerts_send`` sends unsent rows, each under its row lock taken with
``skip_locked`` (two senders never send one row), and keeps the channels already sent so a
retry after a partial failure sends only the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from mi_admin.alerts.base import (
    Alert,
    AlertAction,
    AlertDeliveryError,
    AlertTransientError,
    Notifier,
    Severity,
)
from mi_admin.alerts.dispatch import configured_notifiers, send_with_retry
from mi_admin.audit.services import audit_record
from mi_requests import clocks
from mi_requests.choices import OPEN_STATES, SlaLevel
from mi_requests.models import CustomerRequest, RequestSlaAlert
from mi_requests.selectors import request_resolution_clock

logger = logging.getLogger(__name__)

PAGES = frozenset({SlaLevel.RESOLUTION_BREACH, SlaLevel.RESPONSE_BREACH})
# A warning goes to the handler's chat channel; a page to every configured channel.
WARNING_CHANNELS = frozenset({"slack"})


def request_sla_alerts_record(*, now: datetime | None = None) -> list[RequestSlaAlert]:
    """Record every level reached by an open request that has no row for it yet."""
    now = now or timezone.now()
    open_requests = list(
        CustomerRequest.objects.filter(state__in=OPEN_STATES).prefetch_related(
            "pauses", "sla_alerts"
        )
    )
    new: list[RequestSlaAlert] = []
    for request in open_requests:
        resolution = request_resolution_clock(request, list(request.pauses.all()), now=now)
        due = clocks.alert_levels_due(
            submitted_at=request.submitted_at,
            acknowledged_at=request.acknowledged_at,
            resolution=resolution,
            now=now,
        )
        have = {alert.level for alert in request.sla_alerts.all()}
        new += [
            RequestSlaAlert(request=request, level=level, created_at=now)
            for level in due
            if level not in have
        ]
    if not new:
        return []
    with transaction.atomic():
        # ignore_conflicts: a concurrent run inserted the same (request, level) first.
        RequestSlaAlert.objects.bulk_create(new, ignore_conflicts=True)
    return new


def _alert(row: RequestSlaAlert) -> Alert:
    request = row.request
    level = SlaLevel(row.level)
    site = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    link = site + reverse("mi_requests:detail", kwargs={"pk": request.pk})
    handler = request.handler
    mention = ""
    if handler is not None:
        slack_id = getattr(handler, "slack_user_id", "")
        mention = f" <@{slack_id}>" if slack_id else f" ({handler})"
    if level == SlaLevel.RESPONSE_BREACH:
        summary = f"Request #{request.pk} not acknowledged within 24 h: {request.summary}"
    elif level == SlaLevel.RESOLUTION_BREACH:
        summary = f"Request #{request.pk} is past its resolution deadline: {request.summary}"
    else:
        summary = f"Request #{request.pk}: {level.label} used{mention}: {request.summary}"
    return Alert(
        dedup_key=f"mi-admin/request-{request.pk}/{level.value}",
        action=AlertAction.TRIGGER,
        summary=summary,
        severity=Severity.ERROR if level in PAGES else Severity.WARNING,
        component=request.instance.slug if request.instance else "requests",
        details={
            "request": request.pk,
            "kind": request.kind,
            "state": request.state,
            "level": level.value,
            "handler": str(handler) if handler else "",
            "response_due_at": request.response_due_at.isoformat(),
            "resolution_due_at": (
                request.resolution_due_at.isoformat() if request.resolution_due_at else ""
            ),
        },
        links=[("Request in MI Admin", link)],
    )


@dataclass
class SendReport:
    sent: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def request_sla_alerts_send(
    *, notifiers: Sequence[Notifier] | None = None, retry_attempts: int = 3
) -> SendReport:
    """Send every unsent alert row to its channels; each row once."""
    report = SendReport()
    all_notifiers = list(configured_notifiers() if notifiers is None else notifiers)
    pending = list(
        RequestSlaAlert.objects.filter(sent_at__isnull=True).values_list("pk", flat=True)
    )
    for pk in pending:
        with transaction.atomic():
            row = (
                RequestSlaAlert.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("request", "request__handler", "request__instance")
                .filter(pk=pk, sent_at__isnull=True)
                .first()
            )
            if row is None:
                continue  # another sender holds it, or sent it meanwhile
            channels = [
                n for n in all_notifiers if row.level in PAGES or n.name in WARNING_CHANNELS
            ]
            alert = _alert(row)
            errors = []
            for notifier in channels:
                if notifier.name in row.channels_sent:
                    continue
                try:
                    send_with_retry(notifier, alert, attempts=retry_attempts, base_delay=0.5)
                except (AlertDeliveryError, AlertTransientError) as exc:
                    errors.append(f"{notifier.name}: {exc}")
                else:
                    row.channels_sent = [*row.channels_sent, notifier.name]
            row.last_error = "; ".join(errors)
            if not errors:
                row.sent_at = timezone.now()
                report.sent.append(row.pk)
            else:
                report.failed[row.pk] = row.last_error
            row.save(update_fields=["channels_sent", "last_error", "sent_at"])
            audit_record(
                action="request.sla_alert",
                actor_label="system",
                obj=row.request,
                after={
                    "level": row.level,
                    "channels": row.channels_sent,
                    "error": row.last_error,
                    "sent": row.sent_at is not None,
                },
            )
    return report

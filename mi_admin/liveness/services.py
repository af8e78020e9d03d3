"""Writes of the liveness records, the heartbeat ping and the missed-sweep watch.

Each record is one upsert (``INSERT ... ON CONFLICT DO UPDATE``), so a task run twice or
by two workers at once leaves one row with the later time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q

from mi_admin.alerts.base import Alert, AlertAction, AlertDeliveryError, Notifier, Severity
from mi_admin.alerts.dispatch import configured_notifiers, send_with_retry
from mi_admin.audit.services import audit_record
from mi_admin.liveness.models import PeriodicTaskRun, WatchAlert, WorkerAnswer
from mi_admin.liveness.schedule import beat_entries
from mi_admin.liveness.selectors import WORKER_SHOWN_FOR, overdue

logger = logging.getLogger(__name__)

SWEEP_MISSED = "health-sweep-missed"
DEDUP_KEY = "mi-admin:health-sweep-missed"


def periodic_run_record(*, task: str, at: datetime, error: str = "") -> None:
    """Upsert ``task``'s last success (``error`` empty) or last failure."""
    if error:
        row = PeriodicTaskRun(task=task, last_failure_at=at, last_error=error[:255])
        fields = ["last_failure_at", "last_error"]
    else:
        row = PeriodicTaskRun(task=task, last_success_at=at)
        fields = ["last_success_at"]
    PeriodicTaskRun.objects.bulk_create(
        [row], update_conflicts=True, unique_fields=["task"], update_fields=fields
    )


def worker_answer_record(*, hostname: str, at: datetime) -> None:
    """Upsert this node's answer; drop nodes silent for longer than the dashboard shows
    (a renamed or retired worker), so the table stays the size of the fleet of workers."""
    WorkerAnswer.objects.bulk_create(
        [WorkerAnswer(hostname=hostname[:200], answered_at=at)],
        update_conflicts=True,
        unique_fields=["hostname"],
        update_fields=["answered_at"],
    )
    WorkerAnswer.objects.filter(answered_at__lt=at - WORKER_SHOWN_FOR).delete()


def heartbeat_ping(*, failed: bool, note: str = "") -> bool:
    """Ping ``HEARTBEAT_URL`` (healthchecks.io's API: POST the URL, or ``<url>/fail``).

    Never raises: a heartbeat service that is down must not fail the sweep. The URL is a
    secret (whoever has it can ping), so it is never logged. True when it answered 2xx.
    """
    url = str(getattr(settings, "HEARTBEAT_URL", "") or "")
    if not url:
        return False
    target = url.rstrip("/") + "/fail" if failed else url
    try:
        response = httpx.post(
            target,
            content=note.encode()[:10000],
            timeout=httpx.Timeout(settings.HEARTBEAT_TIMEOUT),
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        logger.warning("heartbeat ping failed: %s", type(exc).__name__)
        return False
    if not response.is_success:
        logger.warning("heartbeat ping answered HTTP %s", response.status_code)
        return False
    return True


@dataclass
class WatchOutcome:
    watched: bool = False
    overdue: bool = False
    raised: bool = False  # this check raised the alert (a new episode)
    cleared: bool = False  # this check cleared it (sweeps resumed)
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _alert(*, action: AlertAction, summary: str, details: dict[str, object]) -> Alert:
    site = str(getattr(settings, "SITE_URL", "")).rstrip("/")
    return Alert(
        dedup_key=DEDUP_KEY,
        action=action,
        summary=summary,
        severity=Severity.CRITICAL,
        component="mi-admin",
        details=details,
        links=[("MI Admin dashboard", f"{site}/")] if site else [],
    )


def _send(
    notifiers: Sequence[Notifier], alert: Alert, outcome: WatchOutcome, attempts: int
) -> None:
    for notifier in notifiers:
        try:
            send_with_retry(notifier, alert, attempts=attempts, base_delay=0.5, max_delay=5)
        except AlertDeliveryError as exc:
            outcome.failed[notifier.name] = str(exc)[:255]
        else:
            outcome.sent.append(notifier.name)


def sweep_watch_check(
    *,
    now: datetime,
    since: datetime,
    notifiers: Sequence[Notifier] | None = None,
    attempts: int = 2,
) -> WatchOutcome:
    """Raise the missed-sweep alert when no health sweep succeeded for
    ``LIVENESS_MISSED_INTERVALS`` sweep intervals; clear it (a recovery message to the
    channels the trigger reached) when one has since.

    ``since`` is when the checking process started watching: a worker started after a long
    stop gives beat three intervals before paging. Several workers may check at once: the
    watch's row is locked with SKIP LOCKED, so one of them decides and the others skip. A
    channel the trigger failed to reach is tried again at the next check, never one that
    got it.
    """
    outcome = WatchOutcome()
    task = settings.LIVENESS_WATCHED_TASK
    entry = next((e for e in beat_entries() if e.task == task and e.enabled), None)
    if entry is None or not entry.interval:
        return outcome  # not scheduled (or a crontab): nothing to expect
    outcome.watched = True
    last = (
        PeriodicTaskRun.objects.filter(task=task).values_list("last_success_at", flat=True).first()
    )
    reference = max(last, since) if last else since
    outcome.overdue = overdue(last=reference, interval=entry.interval, now=now)
    if (
        not outcome.overdue
        and not WatchAlert.objects.filter(Q(key=SWEEP_MISSED) & Q(raised_at__isnull=False)).exists()
    ):
        return outcome  # the common case: one cheap read, no lock
    WatchAlert.objects.get_or_create(key=SWEEP_MISSED)
    with transaction.atomic():
        row = (
            WatchAlert.objects.select_for_update(skip_locked=True).filter(key=SWEEP_MISSED).first()
        )
        if row is None:
            return outcome  # another worker is deciding right now
        details: dict[str, object] = {
            "task": task,
            "interval_seconds": entry.interval,
            "missed_intervals": settings.LIVENESS_MISSED_INTERVALS,
            "last_success_at": last.isoformat() if last else None,
        }
        channels = configured_notifiers() if notifiers is None else list(notifiers)
        # The sends happen under the watch's row lock (other workers skip), and the audit
        # event is written last, so the trail's lock is not held across HTTP calls.
        if outcome.overdue:
            raising = row.raised_at is None
            if raising:
                row.raised_at, row.channels_sent, outcome.raised = now, [], True
            waiting = [n for n in channels if n.name not in row.channels_sent]
            ago = f"{(now - last).total_seconds():.0f} s ago" if last else "none since start"
            summary = (
                f"MI Admin: no health sweep for {settings.LIVENESS_MISSED_INTERVALS} intervals "
                f"of {entry.interval:g} s (last {ago}); is celery beat running?"
            )
            alert = _alert(action=AlertAction.TRIGGER, summary=summary, details=details)
            _send(waiting, alert, outcome, attempts)
            row.channels_sent = [*row.channels_sent, *outcome.sent]
            if raising:
                audit_record(
                    action="liveness.sweep_missed",
                    obj=row,
                    actor_label="watchdog",
                    after={**details, "channels": outcome.sent},
                    at=now,
                )
        elif row.raised_at is not None:
            raised_for = (now - row.raised_at).total_seconds()
            summary = (
                f"MI Admin: health sweeps resumed (last at {last.isoformat() if last else '?'}); "
                f"the missed-sweep alert raised {raised_for:.0f} s ago is cleared"
            )
            reached = [n for n in channels if n.name in row.channels_sent]
            alert = _alert(action=AlertAction.RESOLVE, summary=summary, details=details)
            _send(reached, alert, outcome, attempts)
            for name, error in outcome.failed.items():
                # Not retried: the episode is over, and the next one triggers afresh.
                logger.warning("missed-sweep recovery via %s not delivered: %s", name, error)
            row.raised_at, row.cleared_at, row.channels_sent = None, now, []
            outcome.cleared = True
            audit_record(
                action="liveness.sweep_resumed",
                obj=row,
                actor_label="watchdog",
                after={**details, "channels": outcome.sent},
                at=now,
            )
        row.save()
    return outcome

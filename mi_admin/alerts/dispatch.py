"""Which notifiers are configured, and delivery with retries.

``configured_notifiers()`` reads ``PAGERDUTY_ROUTING_KEY`` (+ ``PAGERDUTY_EVENTS_URL``),
``OPSGENIE_API_KEY`` (+ ``OPSGENIE_API_URL``), ``SLACK_WEBHOOK_URL`` and
``ALERT_HTTP_TIMEOUT`` (seconds, default 10); a notifier whose credential is unset is
simply absent. ``send_with_retry`` retries transient failures only, with exponential
backoff and jitter, so a provider outage of a few seconds does not lose an alert.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from django.conf import settings

from mi_admin.alerts.base import Alert, AlertTransientError, Notifier
from mi_admin.alerts.opsgenie import DEFAULT_API_URL, OpsgenieNotifier
from mi_admin.alerts.pagerduty import DEFAULT_EVENTS_URL, PagerDutyNotifier
from mi_admin.alerts.slack import SlackNotifier

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_jitter = random.SystemRandom()


def configured_notifiers() -> list[Notifier]:
    """The notifiers whose credentials are set, in PagerDuty, Opsgenie, Slack order."""
    timeout = float(getattr(settings, "ALERT_HTTP_TIMEOUT", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT)
    notifiers: list[Notifier] = []
    routing_key = getattr(settings, "PAGERDUTY_ROUTING_KEY", "")
    if routing_key:
        events_url = getattr(settings, "PAGERDUTY_EVENTS_URL", "") or DEFAULT_EVENTS_URL
        notifiers.append(PagerDutyNotifier(routing_key, events_url=events_url, timeout=timeout))
    api_key = getattr(settings, "OPSGENIE_API_KEY", "")
    if api_key:
        api_url = getattr(settings, "OPSGENIE_API_URL", "") or DEFAULT_API_URL
        notifiers.append(OpsgenieNotifier(api_key, api_url=api_url, timeout=timeout))
    webhook_url = getattr(settings, "SLACK_WEBHOOK_URL", "")
    if webhook_url:
        notifiers.append(SlackNotifier(webhook_url, timeout=timeout))
    return notifiers


def backoff_delay(attempt: int, *, base_delay: float, max_delay: float) -> float:
    """The pause after failed ``attempt`` (1-based): half fixed, half random ("equal jitter"),
    so concurrent senders spread out without ever retrying immediately."""
    ceiling = min(max_delay, base_delay * 2 ** (attempt - 1))
    return ceiling / 2 + _jitter.uniform(0, ceiling / 2)


def send_with_retry(
    notifier: Notifier,
    alert: Alert,
    *,
    attempts: int = 4,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Send ``alert``, retrying :class:`AlertTransientError` up to ``attempts`` tries in all.

    An :class:`~mi_admin.alerts.base.AlertPermanentError` propagates at once; the last
    transient error propagates when the attempts are used up.
    """
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    for attempt in range(1, attempts + 1):
        try:
            notifier.send(alert)
        except AlertTransientError as exc:
            if attempt == attempts:
                logger.warning(
                    "alert %s via %s failed after %d attempts: %s",
                    alert.dedup_key,
                    notifier.name,
                    attempts,
                    exc,
                )
                raise
            delay = backoff_delay(attempt, base_delay=base_delay, max_delay=max_delay)
            logger.warning(
                "alert %s via %s failed (attempt %d of %d), retrying in %.2fs: %s",
                alert.dedup_key,
                notifier.name,
                attempt,
                attempts,
                delay,
                exc,
            )
            sleep(delay)
        else:
            return

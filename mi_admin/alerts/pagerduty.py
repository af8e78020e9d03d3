"""PagerDuty Events API v2 sender.

One ``POST`` to the events endpoint per alert; PagerDuty answers 202 once it has queued
the event. A resolve or an acknowledge carries only the routing key, the action and the dedup key.
"""

from __future__ import annotations

import json
from typing import Any

from mi_admin.alerts.base import Alert, AlertAction, fit_key, post_json, truncate

DEFAULT_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255


class PagerDutyNotifier:
    name = "pagerduty"

    def __init__(
        self, routing_key: str, *, events_url: str = DEFAULT_EVENTS_URL, timeout: float = 10.0
    ) -> None:
        self._routing_key = routing_key
        self._events_url = events_url
        self._timeout = timeout

    def __repr__(self) -> str:
        # Keeps the routing key out of tracebacks and debug logs.
        return f"PagerDutyNotifier(events_url={self._events_url!r})"

    def event(self, alert: Alert) -> dict[str, Any]:
        """The Events API v2 body for ``alert``."""
        body: dict[str, Any] = {
            "routing_key": self._routing_key,
            "event_action": alert.action.value,
            "dedup_key": fit_key(alert.dedup_key, DEDUP_KEY_LIMIT),
        }
        if alert.action in (AlertAction.RESOLVE, AlertAction.ACKNOWLEDGE):
            return body
        payload: dict[str, Any] = {
            "summary": truncate(alert.summary, SUMMARY_LIMIT),
            "source": alert.source,
            "severity": alert.severity.value,
            # Round-tripped so values such as datetimes arrive as text instead of failing.
            "custom_details": json.loads(json.dumps(dict(alert.details), default=str)),
        }
        if alert.component:
            payload["component"] = alert.component
        body["payload"] = payload
        body["client"] = "MI Admin"
        body["links"] = [{"href": href, "text": text} for text, href in alert.links]
        return body

    def send(self, alert: Alert) -> None:
        post_json(
            notifier=self.name,
            url=self._events_url,
            payload=self.event(alert),
            timeout=self._timeout,
        )

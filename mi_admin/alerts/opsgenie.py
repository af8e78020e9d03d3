"""Opsgenie Alert API sender.

Trigger: ``POST {api}/v2/alerts`` with the dedup key as ``alias``; resolve:
``POST {api}/v2/alerts/{alias}/close?identifierType=alias``; acknowledge:
``POST {api}/v2/alerts/{alias}/acknowledge?identifierType=alias``. Both authenticate with
``Authorization: GenieKey <key>`` and are answered 202 (processed asynchronously).

Atlassian ends Opsgenie in April 2027 (its alerting moves to Jira Service Management /
Compass); keep this sender replaceable and prefer PagerDuty or Slack for new setups.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from mi_admin.alerts.base import Alert, AlertAction, Severity, fit_key, post_json, truncate

DEFAULT_API_URL = "https://api.opsgenie.com"
MESSAGE_LIMIT = 130
ALIAS_LIMIT = 512
DESCRIPTION_LIMIT = 15000
NOTE_LIMIT = 25000
PRIORITIES = {
    Severity.CRITICAL: "P1",
    Severity.ERROR: "P2",
    Severity.WARNING: "P3",
    Severity.INFO: "P5",
}


def _detail_value(value: Any) -> str:
    # Opsgenie details are a map of strings.
    return value if isinstance(value, str) else json.dumps(value, default=str)


class OpsgenieNotifier:
    name = "opsgenie"

    def __init__(
        self, api_key: str, *, api_url: str = DEFAULT_API_URL, timeout: float = 10.0
    ) -> None:
        self._api_key = api_key
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"OpsgenieNotifier(api_url={self._api_url!r})"

    def create_body(self, alert: Alert) -> dict[str, Any]:
        """The create-alert body for a trigger."""
        description = alert.summary
        if alert.links:
            description += "\n\n" + "\n".join(f"{text}: {href}" for text, href in alert.links)
        body: dict[str, Any] = {
            "message": truncate(alert.summary, MESSAGE_LIMIT),
            "alias": fit_key(alert.dedup_key, ALIAS_LIMIT),
            "description": truncate(description, DESCRIPTION_LIMIT),
            "priority": PRIORITIES[alert.severity],
            "source": alert.source,
            "details": {key: _detail_value(value) for key, value in alert.details.items()},
        }
        if alert.component:
            body["entity"] = alert.component
        return body

    def send(self, alert: Alert) -> None:
        headers = {"Authorization": f"GenieKey {self._api_key}"}
        if alert.action is AlertAction.TRIGGER:
            url = f"{self._api_url}/v2/alerts"
            post_json(
                notifier=self.name,
                url=url,
                payload=self.create_body(alert),
                timeout=self._timeout,
                headers=headers,
            )
            return
        alias = quote(fit_key(alert.dedup_key, ALIAS_LIMIT), safe="")
        verb, label = (
            ("acknowledge", "Acknowledged")
            if alert.action is AlertAction.ACKNOWLEDGE
            else ("close", "Resolved")
        )
        post_json(
            notifier=self.name,
            url=f"{self._api_url}/v2/alerts/{alias}/{verb}?identifierType=alias",
            payload={
                "source": alert.source,
                "note": truncate(f"{label}: {alert.summary}", NOTE_LIMIT),
            },
            timeout=self._timeout,
            headers=headers,
        )

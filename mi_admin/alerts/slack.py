"""Slack incoming-webhook sender.

Slack has no alert state, so a trigger posts an alert message and a resolve (or an
acknowledge) posts a "resolved" ("acknowledged") message that repeats the dedup key. Slack
answers 200 with the body ``ok``.
"""

from __future__ import annotations

from typing import Any

from mi_admin.alerts.base import Alert, AlertAction, Severity, post_json, truncate

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
EMOJI = {
    Severity.CRITICAL: ":rotating_light:",
    Severity.ERROR: ":red_circle:",
    Severity.WARNING: ":warning:",
    Severity.INFO: ":information_source:",
}
RESOLVED_EMOJI = ":white_check_mark:"
ACKNOWLEDGED_EMOJI = ":eyes:"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier:
    name = "slack"

    def __init__(self, webhook_url: str, *, timeout: float = 10.0) -> None:
        self._webhook_url = webhook_url
        self._timeout = timeout

    def __repr__(self) -> str:
        # The webhook URL is the credential.
        return "SlackNotifier()"

    def message(self, alert: Alert) -> dict[str, Any]:
        """The webhook body: a plain ``text`` fallback plus Block Kit ``blocks``."""
        if alert.action is AlertAction.RESOLVE:
            headline = f"{RESOLVED_EMOJI} Resolved: {alert.summary}"
        elif alert.action is AlertAction.ACKNOWLEDGE:
            headline = f"{ACKNOWLEDGED_EMOJI} Acknowledged: {alert.summary}"
        else:
            headline = f"{EMOJI[alert.severity]} [{alert.severity.upper()}] {alert.summary}"
        headline = truncate(escape(headline), SECTION_LIMIT)
        where = alert.source + (f" · {alert.component}" if alert.component else "")
        footer = truncate(escape(f"{where} · key {alert.dedup_key}"), SECTION_LIMIT)
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        ]
        if alert.action is AlertAction.TRIGGER and alert.details:
            fields = [
                {"type": "mrkdwn", "text": truncate(escape(f"*{key}*\n{value}"), FIELD_LIMIT)}
                for key, value in list(alert.details.items())[:MAX_FIELDS]
            ]
            blocks.append({"type": "section", "fields": fields})
        if alert.links:
            links = " · ".join(f"<{href}|{escape(text)}>" for text, href in alert.links)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": links}})
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
        return {"text": headline, "blocks": blocks}

    def send(self, alert: Alert) -> None:
        post_json(
            notifier=self.name,
            url=self._webhook_url,
            payload=self.message(alert),
            timeout=self._timeout,
        )

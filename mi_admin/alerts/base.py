"""Alert types shared by every notifier, and the one HTTP call they all make.

A notifier turns an :class:`Alert` into one provider request and classifies failures:
:class:`AlertTransientError` (worth retrying: timeouts, connection errors, 408, 429, 5xx)
or :class:`AlertPermanentError` (other 4xx, redirects: retrying cannot help). Error messages
never contain the request URL or credentials, so callers may log them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

import httpx

_BODY_EXCERPT = 200


class AlertAction(StrEnum):
    TRIGGER = "trigger"
    RESOLVE = "resolve"
    ACKNOWLEDGE = "acknowledge"


class Severity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One trigger or resolve event; ``dedup_key`` ties a resolve to its trigger."""

    dedup_key: str
    action: AlertAction
    summary: str
    severity: Severity = Severity.ERROR
    source: str = "mi-admin"
    component: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    links: Sequence[tuple[str, str]] = ()  # (text, href)

    def __post_init__(self) -> None:
        if not self.dedup_key:
            raise ValueError("dedup_key must not be empty")
        # Coerce plain strings and freeze the containers so an Alert can be shared.
        object.__setattr__(self, "action", AlertAction(self.action))
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        object.__setattr__(self, "links", tuple((str(t), str(h)) for t, h in self.links))


class AlertDeliveryError(Exception):
    """The provider did not accept the alert."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class AlertTransientError(AlertDeliveryError):
    """A failure that may pass: timeout, connection error, 408, 429 or 5xx."""


class AlertPermanentError(AlertDeliveryError):
    """A failure a retry cannot fix, e.g. a 400 for a bad routing key."""


class Notifier(Protocol):
    @property
    def name(self) -> str: ...

    def send(self, alert: Alert) -> None: ...


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_key(key: str, limit: int) -> str:
    """A dedup key within ``limit`` characters; long keys keep a prefix plus their digest,
    so the trigger and the resolve of one alert still map to the same key."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: limit - len(digest) - 1]}-{digest}"


def post_json(
    *,
    notifier: str,
    url: str,
    payload: Mapping[str, Any],
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """POST ``payload`` as JSON; return a 2xx response or raise a classified delivery error.

    ``url`` is used as given, query string included (httpx's ``params=`` would replace it).
    """
    try:
        response = httpx.post(
            url,
            json=payload,
            headers=dict(headers or {}),
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
        )
    except httpx.TimeoutException as exc:
        raise AlertTransientError(f"{notifier}: timed out after {timeout:g}s") from exc
    except httpx.TransportError as exc:
        # The exception text can name the host but never the path or the query, where
        # webhook secrets live; the type name alone is enough to act on.
        raise AlertTransientError(f"{notifier}: {type(exc).__name__}") from exc
    status = response.status_code
    if response.is_success:
        return response
    excerpt = response.text[:_BODY_EXCERPT]
    message = f"{notifier}: HTTP {status}: {excerpt}"
    if status in {408, 429} or status >= 500:
        raise AlertTransientError(message, status_code=status)
    raise AlertPermanentError(message, status_code=status)

"""A small client of Okta's management API: users, groups and group memberships.

Plain HTTP (httpx) with a timeout on every call and ``Authorization: SSWS <token>``, against
``settings.OKTA_ORG_URL`` (the org, e.g. ``https://example.okta.com``; the local IdP in
``make run`` and the tests). Failures are classified for the caller:

* :class:`OktaTransientError`: timeouts, connection errors, 429 and 5xx. Worth retrying with
  backoff (an operation's runner turns it into its transient-error path).
* :class:`OktaPermanentError`: any other answer (401 bad token, 403, ...), and its
  :class:`OktaNotFound` (404, no such user or group). Retrying cannot help; the message
  says what to fix.

Messages never contain the token, so callers may log and record them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

# Okta pages group members up to 1000 at a time; more pages than this is a bug, not an org.
_MAX_PAGES = 100


class OktaError(Exception):
    """A call to Okta's API failed."""


class OktaTransientError(OktaError):
    """Okta could not answer now (timeout, connection, 429, 5xx): retry later."""


class OktaPermanentError(OktaError):
    """Okta refused the call for good (bad token, missing user or group, ...)."""


class OktaNotFound(OktaPermanentError):
    """No such user or group (404 ``E0000007``, or no group of that exact name)."""


@dataclass(frozen=True)
class OktaUser:
    id: str
    login: str
    email: str


@dataclass(frozen=True)
class OktaGroup:
    id: str
    name: str


def _error_summary(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return f"{body.get('errorCode', '')} {body.get('errorSummary', '')}".strip()
    return ""


class OktaClient:
    """One org's API. Build it with :func:`okta_client` (from settings) or directly."""

    def __init__(self, *, org_url: str, api_token: str, timeout: float = 10.0) -> None:
        if not org_url or not api_token:
            raise OktaPermanentError(
                "Okta's API is not configured: set OKTA_ORG_URL and OKTA_API_TOKEN."
            )
        self.org_url = org_url.rstrip("/")
        self._headers = {
            "Authorization": f"SSWS {api_token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        self.timeout = timeout

    def _call(self, method: str, url: str, *, what: str) -> httpx.Response:
        if not url.startswith(("http://", "https://")):
            url = f"{self.org_url}/api/v1/{url}"
        try:
            response = httpx.request(method, url, headers=self._headers, timeout=self.timeout)
        except httpx.TimeoutException as exc:
            raise OktaTransientError(f"Okta did not answer in time ({what})") from exc
        except httpx.TransportError as exc:
            raise OktaTransientError(f"cannot reach Okta ({what}): {type(exc).__name__}") from exc
        status = response.status_code
        if status < 300:
            return response
        summary = _error_summary(response)
        if status == 429 or status >= 500:
            raise OktaTransientError(f"Okta answered {status} ({what}): {summary}")
        if status == 401:
            raise OktaPermanentError(f"Okta refused the API token ({what}): check OKTA_API_TOKEN")
        if status == 404:
            raise OktaNotFound(f"Okta has no {what}: {summary}")
        raise OktaPermanentError(f"Okta answered {status} ({what}): {summary}")

    def user_get(self, login: str) -> OktaUser:
        """The user with this login (or id); :class:`OktaPermanentError` if none."""
        response = self._call("GET", f"users/{quote(login, safe='@')}", what=f"user {login}")
        body = response.json()
        profile = body.get("profile", {})
        return OktaUser(
            id=str(body["id"]), login=str(profile.get("login", "")), email=str(profile.get("email"))
        )

    def group_find(self, name: str) -> OktaGroup:
        """The group named exactly ``name`` (``q`` matches name prefixes)."""
        response = self._call("GET", f"groups?q={quote(name)}", what=f"group {name}")
        for group in response.json():
            if group.get("profile", {}).get("name") == name:
                return OktaGroup(id=str(group["id"]), name=name)
        raise OktaNotFound(f"Okta has no group named {name!r}: create it, or fix the level.")

    def group_get(self, group_id: str) -> OktaGroup:
        body = self._call("GET", f"groups/{quote(group_id)}", what=f"group {group_id}").json()
        return OktaGroup(id=str(body["id"]), name=str(body.get("profile", {}).get("name", "")))

    def group_member_ids(self, group_id: str) -> set[str]:
        """The ids of every member, following the ``Link: rel="next"`` pages."""
        ids: set[str] = set()
        url = f"groups/{quote(group_id)}/users?limit=1000"
        for _ in range(_MAX_PAGES):
            response = self._call("GET", url, what=f"members of {group_id}")
            ids.update(str(user["id"]) for user in response.json())
            following = response.links.get("next", {}).get("url")
            if not following:
                return ids
            if not following.startswith(f"{self.org_url}/"):
                # The token goes with every call: never to another host than the org's.
                raise OktaPermanentError(f"Okta's next page is off the org: {following}")
            url = following
        raise OktaPermanentError(f"more than {_MAX_PAGES} pages of members in {group_id}")

    def group_member_add(self, group_id: str, user_id: str) -> None:
        """Add a member (204; adding one already there changes nothing)."""
        self._call(
            "PUT", f"groups/{quote(group_id)}/users/{quote(user_id)}", what=f"add to {group_id}"
        )

    def group_member_remove(self, group_id: str, user_id: str) -> None:
        """Remove a member (204; removing one not there changes nothing)."""
        self._call(
            "DELETE",
            f"groups/{quote(group_id)}/users/{quote(user_id)}",
            what=f"remove from {group_id}",
        )


def okta_client(**overrides: Any) -> OktaClient:
    """The org of the settings (``OKTA_ORG_URL``, ``OKTA_API_TOKEN``, ``OKTA_TIMEOUT``)."""
    options: dict[str, Any] = {
        "org_url": settings.OKTA_ORG_URL,
        "api_token": settings.OKTA_API_TOKEN,
        "timeout": settings.OKTA_TIMEOUT,
    }
    options.update(overrides)
    return OktaClient(**options)

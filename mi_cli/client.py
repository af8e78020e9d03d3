"""The API client: the cached login's bearer token (refreshed when it has expired, once more
when the server refuses it), problem+json errors as :class:`CliError`, cursor pages."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from mi_cli import auth, config
from mi_cli.errors import CliError, ExitCode, error_for

API_PREFIX = "/api/v1/"
TIMEOUT = 30.0
USER_AGENT = "mi-cli"


class ApiClient:
    """One server, one token. ``MI_TOKEN`` (an access token, e.g. a CI job's client
    credentials token) takes the place of the cached login; ``MI_SERVER`` its server."""

    def __init__(self, server: str | None = None) -> None:
        self.credentials = config.load()
        self.static_token = os.environ.get("MI_TOKEN", "")
        env_server = os.environ.get("MI_SERVER", "")
        cached_server = self.credentials.server if self.credentials else ""
        self.server = (server or env_server or cached_server or config.DEFAULT_SERVER).rstrip("/")
        if not self.static_token and self.credentials is None:
            raise CliError("Not logged in: run `mi login`.", ExitCode.NOT_AUTHENTICATED)
        self.http = httpx.Client(timeout=TIMEOUT, headers={"User-Agent": USER_AGENT})
        _open.append(self)

    def close(self) -> None:
        self.http.close()

    @staticmethod
    def close_all() -> None:
        """Close every client's kept-alive connections (``main`` does, after the command:
        run in-process, as the tests do, an open socket would hold a server thread)."""
        for client in list(_open):
            client.close()
        _open.clear()

    def _token(self, *, force_refresh: bool = False) -> str:
        if self.static_token:
            return self.static_token
        assert self.credentials is not None
        if force_refresh or self.credentials.expired():
            self.credentials = auth.refresh(self.credentials)
            config.save(self.credentials)
        return self.credentials.access_token

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if not path.startswith("/"):
            path = API_PREFIX + path
        return self.server + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        """Send with the token; an error status becomes a :class:`CliError` with its exit
        code. A POST that starts work carries an ``Idempotency-Key``, the same on the retry
        after a refused (expired) token, so it never starts twice."""
        headers = {"Accept": "application/json, application/problem+json, text/csv"}
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self._token(force_refresh=attempt == 2)}"
            try:
                response = self.http.request(
                    method, self.url(path), params=params, json=json, headers=headers
                )
            except httpx.HTTPError as exc:
                raise CliError(f"Cannot reach {self.server}: {exc}", ExitCode.SERVER) from exc
            refreshable = (
                not self.static_token and self.credentials and self.credentials.refresh_token
            )
            if response.status_code == 401 and attempt == 1 and refreshable:
                continue
            break
        if response.status_code >= 400:
            raise error_for(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v not in (None, False, "", [])}
        return _json(self.request("GET", path, params=clean))

    def post(self, path: str, body: Any = None, *, idempotent: bool = True) -> httpx.Response:
        return self.request("POST", path, json=body, idempotent=idempotent)

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every row of a cursor-paginated list, following ``next``."""
        page = self.get(path, page_size=200, **params)
        while True:
            yield from page.get("results", [])
            if not page.get("next"):
                return
            page = _json(self.request("GET", page["next"]))


# Strong references: a client dropped by its command must still be closed by close_all().
_open: list[ApiClient] = []


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise CliError(
            f"{response.url} did not answer JSON (is --server MI Admin?)", ExitCode.SERVER
        ) from exc

"""Login: OAuth 2 authorization code + PKCE on a loopback redirect (RFC 8252), against Okta's
custom authorization server or the local IdP's, and refreshing with the refresh token."""

from __future__ import annotations

import base64
import hashlib
import http.server
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from mi_cli.config import CLIENT_ID, Credentials
from mi_cli.errors import CliError, ExitCode

SCOPES = "openid offline_access mi.read mi.write"
CALLBACK_PATH = "/callback"
LOGIN_TIMEOUT_SECONDS = 300
HTTP_TIMEOUT = 30.0

Browser = Callable[[str], Any]

_DONE_PAGE = (
    b"<!doctype html><title>mi login</title><p>Signed in to the mi command line. "
    b"You can close this tab.</p>"
)


def discover(issuer: str) -> dict[str, str]:
    """The authorization server's endpoints from its RFC 8414 metadata (Okta's custom servers
    and the local IdP publish it); Okta's paths when it is not there."""
    issuer = issuer.rstrip("/")
    fallback = {
        "authorization_endpoint": f"{issuer}/v1/authorize",
        "token_endpoint": f"{issuer}/v1/token",
    }
    try:
        response = httpx.get(
            f"{issuer}/.well-known/oauth-authorization-server", timeout=HTTP_TIMEOUT
        )
    except httpx.HTTPError as exc:
        raise CliError(f"Cannot reach the sign-in server {issuer}: {exc}", ExitCode.SERVER) from exc
    if response.status_code != 200:
        return fallback
    meta = response.json()
    return {key: str(meta.get(key) or value) for key, value in fallback.items()}


class _Callback(http.server.BaseHTTPRequestHandler):
    """Catches the one redirect back from the authorization server."""

    server: _LoopbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self.send_error(404)
            return
        self.server.params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(_DONE_PAGE)
        self.server.received.set()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal is the user's, not a log


class _LoopbackServer(http.server.HTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Callback)
        self.params: dict[str, str] = {}
        self.received = threading.Event()

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{CALLBACK_PATH}"


def _pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _token_request(token_endpoint: str, data: dict[str, str]) -> httpx.Response:
    try:
        return httpx.post(token_endpoint, data=data, timeout=HTTP_TIMEOUT)
    except httpx.HTTPError as exc:
        raise CliError(f"Cannot reach {token_endpoint}: {exc}", ExitCode.SERVER) from exc


def _credentials(
    body: dict[str, Any], *, server: str, issuer: str, token_endpoint: str, refresh: str = ""
) -> Credentials:
    return Credentials(
        server=server,
        issuer=issuer,
        token_endpoint=token_endpoint,
        access_token=str(body["access_token"]),
        expires_at=time.time() + float(body.get("expires_in") or 3600),
        refresh_token=str(body.get("refresh_token") or refresh),
        client_id=CLIENT_ID,
        scope=str(body.get("scope") or ""),
    )


def login(
    *,
    server: str,
    issuer: str,
    browser: Browser | None = None,
    timeout: float = LOGIN_TIMEOUT_SECONDS,
) -> Credentials:
    """Sign in: open ``browser`` (the system's by default) at the authorization URL, wait for
    the redirect to a one-shot listener on 127.0.0.1, exchange the code with the verifier."""
    endpoints = discover(issuer)
    verifier, challenge = _pkce_pair()
    state = secrets.token_urlsafe(24)
    loopback = _LoopbackServer()
    thread = threading.Thread(target=loopback.serve_forever, daemon=True)
    thread.start()
    try:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": CLIENT_ID,
                "redirect_uri": loopback.redirect_uri,
                "scope": SCOPES,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        (browser or webbrowser.open)(f"{endpoints['authorization_endpoint']}?{query}")
        if not loopback.received.wait(timeout):
            raise CliError(f"No sign-in within {timeout:.0f} s.", ExitCode.NOT_AUTHENTICATED)
    finally:
        loopback.shutdown()
        loopback.server_close()
    params = loopback.params
    if params.get("state") != state:
        raise CliError("The sign-in answer did not match this login.", ExitCode.NOT_AUTHENTICATED)
    if "error" in params or "code" not in params:
        reason = params.get("error_description") or params.get("error") or "no code"
        raise CliError(f"Sign-in refused: {reason}", ExitCode.NOT_AUTHENTICATED)
    response = _token_request(
        endpoints["token_endpoint"],
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": loopback.redirect_uri,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
        },
    )
    if response.status_code != 200:
        raise CliError(
            f"The sign-in server refused the code: {response.text[:200]}",
            ExitCode.NOT_AUTHENTICATED,
        )
    return _credentials(
        response.json(), server=server, issuer=issuer, token_endpoint=endpoints["token_endpoint"]
    )


def refresh(credentials: Credentials) -> Credentials:
    """New tokens from the refresh token; a :class:`CliError` (exit 3) asking for ``mi login``
    when there is none or the server refuses it."""
    expired = CliError("Your login has expired: run `mi login`.", ExitCode.NOT_AUTHENTICATED)
    if not credentials.refresh_token:
        raise expired
    response = _token_request(
        credentials.token_endpoint,
        {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
            "client_id": credentials.client_id,
            "scope": credentials.scope or SCOPES,
        },
    )
    if response.status_code != 200:
        raise expired
    return _credentials(
        response.json(),
        server=credentials.server,
        issuer=credentials.issuer,
        token_endpoint=credentials.token_endpoint,
        refresh=credentials.refresh_token,
    )

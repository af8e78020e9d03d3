"""Fixtures of the command line's tests: a private config dir for every test (no test ever
reads or writes the real ~/.config/mi), ``mi(...)`` running ``main(argv)`` in-process, and
for the live tests MI Admin on ``live_server`` trusting the session's local IdP, with a
"browser" that signs a persona in at the IdP's real login page and follows the redirect to
the CLI's loopback listener."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings
from django.core.cache import cache

from idp import MACHINE_CLIENT_ID
from idp.process import IdpProcess
from mi_admin.accounts.roles import Role
from mi_admin.api.tokens import jwks_cache
from mi_cli.main import main
from tests.fixtures.idp import is_idp_login_page, submit_idp_login


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in ("MI_TOKEN", "MI_SERVER", "MI_ISSUER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MI_POLL_SECONDS", "0.2")
    return home


@pytest.fixture
def mi(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """``mi("instances", "--json")``: the exit code and what it printed."""

    def run(*argv: str, browser: Callable[[str], Any] | None = None) -> Result:
        capsys.readouterr()
        code = main(list(argv), browser=browser)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def live_api(
    live_server: Any, oidc_settings: IdpProcess, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """MI Admin on a live server, trusting the IdP's custom authorization server; ``mi``
    pointed at both through the environment. Yields the server's URL."""
    settings.API_MACHINE_CLIENTS = {MACHINE_CLIENT_ID: Role.DEVOPS.value}
    monkeypatch.setenv("MI_SERVER", live_server.url)
    monkeypatch.setenv("MI_ISSUER", settings.API_TOKEN_ISSUER)
    jwks_cache.clear()
    cache.clear()
    # The live server runs in this process: its log lines (and logging's own complaints)
    # must not land in the stderr the tests read as the CLI's.
    with _server_logs_aside():
        yield live_server.url
    jwks_cache.clear()


@contextmanager
def _server_logs_aside() -> Iterator[None]:
    handlers = [
        handler
        for name in (None, "django", "django.server")
        for handler in logging.getLogger(name).handlers
        if type(handler) is logging.StreamHandler
    ]
    # Assigned, not setStream(): that flushes the old stream, which a capture fixture of an
    # earlier test may have closed.
    previous = [handler.stream for handler in handlers]
    for handler in handlers:
        handler.stream = io.StringIO()
    try:
        yield
    finally:
        for handler, stream in zip(handlers, previous, strict=True):
            handler.stream = stream


def persona_browser(username: str, idp: IdpProcess) -> Callable[[str], None]:
    """A stand-in for the user's browser: open the authorization URL, sign in as
    ``username`` at the IdP's form, and follow every redirect, the last one to the CLI's
    loopback listener (which answers it)."""

    def browse(url: str) -> None:
        session = requests.Session()
        page = session.get(url, timeout=30)
        assert is_idp_login_page(page, idp), page.url
        done = submit_idp_login(session, page, username)
        assert done.status_code == 200, done.text[:300]
        assert done.url.startswith("http://127.0.0.1:"), done.url
        assert "/callback" in done.url

    return browse


@pytest.fixture
def login_as(
    live_api: str, oidc_settings: IdpProcess, mi: Callable[..., Result]
) -> Callable[[str], Result]:
    def login(username: str) -> Result:
        result = mi("login", browser=persona_browser(username, oidc_settings))
        assert result.code == 0, result.err
        return result

    return login


__all__ = ["Result", "persona_browser", "settings"]

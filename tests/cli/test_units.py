"""The command line's own logic, without a server: durations, tables, exit codes, the
token cache's file mode, and when a login needs refreshing."""

from __future__ import annotations

import json
import stat
import time
from typing import Any

import httpx
import pytest

from mi_cli import auth, config
from mi_cli.errors import CliError, ExitCode, exit_code_for_status, problem_message
from mi_cli.render import parse_duration, table


def _cached() -> config.Credentials:
    credentials = config.load()
    assert credentials is not None, "no cached login"
    return credentials


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("1h", 60), ("1h30m", 90), ("2d", 2880), ("45", 45), (" 2H ", 120)],
)
def test_durations_are_minutes(text, minutes):
    assert parse_duration(text) == minutes


@pytest.mark.parametrize("text", ["", "0", "0m", "1x", "h", "1h1h", "1.5h", "-1h", "1h 30"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match=r"duration|no time|repeats"):
        parse_duration(text)


def test_for_takes_a_duration_and_refuses_nonsense_as_usage(mi):
    # when the duration does not parse; then it is a usage error (2), before any request
    result = mi("access", "request", "acme-prod", "--level", "ssh", "--for", "soon", "--why", "x")
    assert result.code == ExitCode.USAGE
    assert "'soon' is not a duration" in result.err


def test_table_aligns_columns_and_shows_missing_values_as_a_dash():
    rows: list[dict[str, Any]] = [{"slug": "acme-prod", "v": "6.9.1"}, {"slug": "b", "v": None}]
    text = table(rows, [("slug", lambda r: r["slug"]), ("version", lambda r: r["v"])])
    assert text.splitlines() == [
        "SLUG       VERSION",
        "acme-prod  6.9.1",
        "b          -",
    ]


def test_table_keeps_a_row_on_one_line():
    text = table([{"e": "line one\nline two"}], [("error", lambda r: r["e"])])
    assert text.splitlines()[1] == "line one line two"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, ExitCode.FAILED),
        (409, ExitCode.FAILED),
        (422, ExitCode.FAILED),
        (401, ExitCode.NOT_AUTHENTICATED),
        (403, ExitCode.FORBIDDEN),
        (404, ExitCode.NOT_FOUND),
        (429, ExitCode.SERVER),
        (500, ExitCode.SERVER),
        (503, ExitCode.SERVER),
    ],
)
def test_http_statuses_map_to_documented_exit_codes(status, code):
    assert exit_code_for_status(status) == code


def test_exit_codes_are_the_documented_numbers():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 5, 6]


def test_problem_json_becomes_its_title_and_detail():
    body = {"type": "urn:x", "title": "Conflict", "status": 409, "detail": "An upgrade runs."}
    response = httpx.Response(409, json=body)
    assert problem_message(response) == "Conflict: An upgrade runs."
    # an answer that is no problem document still says what happened
    assert problem_message(httpx.Response(502, text="<html>bad gateway")) == "HTTP 502 Bad Gateway"


def _credentials(**fields):
    values = {
        "server": "http://mi.example",
        "issuer": "http://idp.example/o/oauth2/default",
        "token_endpoint": "http://127.0.0.1:1/v1/token",
        "access_token": "a",
        "expires_at": time.time() + 3600,
        "refresh_token": "r",
    }
    return config.Credentials(**{**values, **fields})


def test_token_cache_is_private_to_its_owner(config_home):
    # when a login is saved
    path = config.save(_credentials())
    # then only its owner can read it, in a directory only its owner can list
    assert path == config_home / "mi" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["access_token"] == "a"
    # and saved again over a file someone widened, it is private again
    path.chmod(0o644)
    config.save(_credentials(access_token="b"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _cached().access_token == "b"
    # and a temporary file left readable by an interrupted save does not leak the next one
    leftover = path.with_suffix(".tmp")
    leftover.write_text("{}")
    leftover.chmod(0o644)
    config.save(_credentials(access_token="c"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_token_is_refreshed_shortly_before_it_expires():
    now = time.time()
    assert not _credentials(expires_at=now + 120).expired(now)
    assert _credentials(expires_at=now + 10).expired(now)  # within the margin
    assert _credentials(expires_at=now - 1).expired(now)


def test_without_a_refresh_token_an_expired_login_asks_for_mi_login():
    with pytest.raises(CliError) as caught:
        auth.refresh(_credentials(refresh_token=""))
    assert caught.value.code == ExitCode.NOT_AUTHENTICATED
    assert "mi login" in caught.value.message


def test_a_damaged_cache_counts_as_logged_out(config_home, mi):
    (config_home / "mi").mkdir(parents=True)
    (config_home / "mi" / "credentials.json").write_text("{not json")
    assert config.load() is None
    result = mi("instances")
    assert result.code == ExitCode.NOT_AUTHENTICATED
    assert result.err == "mi: Not logged in: run `mi login`.\n"


def test_unreachable_server_is_exit_6_without_a_traceback(mi, monkeypatch):
    # given a token and a server nobody listens on
    monkeypatch.setenv("MI_TOKEN", "x")
    monkeypatch.setenv("MI_SERVER", "http://127.0.0.1:1")
    result = mi("show", "acme-prod")
    assert result.code == ExitCode.SERVER
    assert result.err.startswith("mi: Cannot reach http://127.0.0.1:1")
    assert "Traceback" not in result.err


def test_help_everywhere(mi):
    for argv in (
        [],
        ["instances"],
        ["upgrade"],
        ["access"],
        ["access", "request"],
        ["access", "approve"],
        ["audit", "export"],
        ["login"],
    ):
        result = mi(*argv, "--help")
        assert result.code == 0, argv
        assert result.out.startswith("usage: mi"), argv
    assert "exit codes: 0 ok" in mi("upgrade", "--help").out


def test_usage_errors_exit_2(mi):
    assert mi().code == ExitCode.USAGE
    assert mi("upgrade", "acme-prod").code == ExitCode.USAGE  # --to is required
    assert mi("frobnicate").code == ExitCode.USAGE

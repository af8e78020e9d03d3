"""``mi requests`` without MI Admin: what it asks the API (a recording HTTP server stands
in for it, with an ``MI_TOKEN``) and how it prints the answer."""

from __future__ import annotations

import json

import pytest

from mi_cli.errors import ExitCode
from tests.fixtures.http_receiver import Reply

ROW = {
    "id": 7,
    "kind": "suspension",
    "state": "waiting",
    "summary": "Suspension: acme-prod",
    "reason": "project paused",
    "instance": "acme-prod",
    "customer": "Acme",
    "requester": "ce",
    "handler": "devops",
    "submitted_at": "2026-12-01T09:00:00Z",
    "clocks": [
        {"label": "Response (24 h)", "due": "2026-12-02T09:00:00Z", "state": "met", "note": ""}
    ],
}
DETAIL = {
    **ROW,
    "actions": ["answer", "comment", "withdraw"],
    "events": [
        {"at": "2026-12-01T09:00:00Z", "actor": "ce", "action": "submit", "to_state": "submitted"},
        {"at": "2026-12-01T10:00:00Z", "actor": "devops", "action": "ask", "comment": "When?"},
    ],
}


def _json(body: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(body).encode(), headers=(("Content-Type", "application/json"),))


@pytest.fixture
def server(http_receiver, monkeypatch):
    monkeypatch.setenv("MI_SERVER", http_receiver.url)
    monkeypatch.setenv("MI_TOKEN", "a-token")
    return http_receiver


def test_requests_asks_with_the_filters_and_prints_a_table(server, mi):
    # given the API answers one page with one request
    server.script(_json({"next": None, "previous": None, "results": [ROW]}))
    # when the list is asked for my waiting requests
    result = mi("requests", "--mine", "--state", "waiting")
    # then the API got the filters and the bearer token, and a row is printed
    assert result.code == ExitCode.OK, result.err
    (request,) = server.requests
    assert request.route == "/api/v1/requests/"
    assert sorted(request.query.split("&")) == ["mine=true", "page_size=200", "state=waiting"]
    assert request.headers["authorization"] == "Bearer a-token"
    header, row = result.out.splitlines()
    assert header.split() == [
        "ID",
        "KIND",
        "STATE",
        "INSTANCE",
        "REQUESTER",
        "SUBMITTED",
        "SUMMARY",
    ]
    assert row.split()[:5] == ["7", "suspension", "waiting", "acme-prod", "ce"]


def test_requests_json_and_empty(server, mi):
    server.script(
        _json({"next": None, "previous": None, "results": [ROW]}),
        _json({"next": None, "previous": None, "results": []}),
    )
    assert json.loads(mi("requests", "--json").out) == [ROW]
    assert mi("requests").out.strip() == "No requests match."


def test_requests_show_prints_clocks_and_timeline(server, mi):
    server.script(_json(DETAIL))
    result = mi("requests", "show", "7")
    assert result.code == ExitCode.OK, result.err
    assert server.requests[0].route == "/api/v1/requests/7/"
    out = result.out
    assert "Request:   #7 Suspension: acme-prod" in out
    assert "Actions:   answer, comment, withdraw" in out
    clocks, timeline = out.split("\nSLA clocks\n")[1].split("\nTimeline\n")
    assert "Response (24 h)" in clocks
    assert "met" in clocks
    assert [line.split()[1:3] for line in timeline.strip().splitlines()[1:]] == [
        ["ce", "submit"],
        ["devops", "ask"],
    ]


def test_requests_show_of_a_hidden_request_is_exit_5(server, mi):
    problem = {"title": "Not found", "status": 404, "detail": "No request #8 that you may see."}
    server.script(_json(problem, 404))
    result = mi("requests", "show", "8")
    assert result.code == ExitCode.NOT_FOUND
    assert "No request #8" in result.err


def test_requests_usage(mi):
    assert mi("requests", "--help").out.startswith("usage: mi requests")
    assert mi("requests", "show", "--help").out.startswith("usage: mi requests show")
    assert mi("requests", "show").code == ExitCode.USAGE
    assert mi("requests", "show", "seven").code == ExitCode.USAGE

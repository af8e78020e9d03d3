"""``mi rollout`` without a server: what REF means, how a status reads, help and usage."""

from __future__ import annotations

from typing import Any

from mi_cli.errors import ExitCode
from mi_cli.main import rollout_ref, rollout_status_text

STATUS: dict[str, Any] = {
    "id": 7,
    "release": "6.10.0",
    "state": "paused",
    "paused_reason": "a bad metric",
    "counts": {"pending": 1, "upgrading": 0, "done": 1, "failed": 1, "skipped": 0},
    "waves": [
        {
            "position": 0,
            "name": "Test instances",
            "earliest_start": "2026-03-06T12:00:00Z",
            "counts": {"pending": 0, "upgrading": 0, "done": 1, "failed": 1, "skipped": 0},
            "targets": [
                {"instance": "dev", "state": "done", "operation": 11, "error": ""},
                {"instance": "demo", "state": "failed", "operation": 12, "error": "timed out"},
            ],
        },
        {
            "position": 1,
            "name": "All customers",
            "earliest_start": "2026-03-09T12:00:00Z",
            "counts": {"pending": 1, "upgrading": 0, "done": 0, "failed": 0, "skipped": 0},
            "targets": [{"instance": "prod-a", "state": "pending", "operation": None}],
        },
    ],
}


def test_a_number_is_an_id_anything_else_a_version():
    assert rollout_ref("42") == (42, "")
    assert rollout_ref(" 6.10.0 ") == (None, "6.10.0")
    assert rollout_ref("6") == (6, "")


def test_status_reads_state_counts_waves_and_instances():
    lines = rollout_status_text(STATUS).splitlines()
    assert lines[0] == "Rollout #7 of 6.10.0: paused (a bad metric)"
    # only the non-zero counts, in state order
    assert lines[1] == "1 pending, 1 done, 1 failed"
    text = "\n".join(lines)
    assert "WAVE  NAME            PENDING  UPGRADING  DONE  FAILED  SKIPPED" in text
    # each instance with its wave, and why it failed
    demo = next(line for line in lines if " demo " in line)
    assert demo.split()[:4] == ["0", "demo", "failed", "12"]
    assert demo.endswith("timed out")
    prod = next(line for line in lines if "prod-a" in line)
    assert prod.split() == ["1", "prod-a", "pending", "-", "-"]


def test_an_empty_rollout_says_so():
    text = rollout_status_text({"id": 1, "release": "6.10.0", "state": "planned", "waves": []})
    assert text == "Rollout #1 of 6.10.0: planned\nno instances"


def test_rollout_help_and_usage(mi):
    for argv in (["rollout"], ["rollout", "start"], ["rollout", "status"], ["rollout", "pause"]):
        result = mi(*argv, "--help")
        assert result.code == 0, argv
        assert result.out.startswith("usage: mi rollout"), argv
    # a version is needed to start; pause and abort need a reason, before any request
    assert mi("rollout", "start").code == ExitCode.USAGE
    paused = mi("rollout", "pause", "7")
    assert paused.code == ExitCode.USAGE
    assert "--reason" in paused.err
    assert mi("rollout", "abort", "7").code == ExitCode.USAGE
    assert mi("rollout", "frobnicate", "7").code == ExitCode.USAGE

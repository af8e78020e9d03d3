"""Version semantics as every page shows them: behind / current / ahead and the version SLA.

Read through the fleet list, its filters and the dashboard, so the tests hold whichever
module computes them (instances.versions does)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from instances.choices import InstanceKind, LifecycleState, ReleaseKind
from tests.instances.factories import make_instance, make_release

URL = "/instances/"


def _slugs(response) -> list[str]:
    return re.findall(r'data-testid="instance-row" data-slug="([^"]+)"', response.content.decode())


def _row(response, slug: str) -> str:
    body = response.content.decode()
    start = body.index(f'data-slug="{slug}"')
    return body[start : body.index("</tr>", start)]


def _sla_text(response, slug: str) -> str:
    match = re.search(r'data-testid="version-sla"[^>]*>([^<]*)<', _row(response, slug))
    assert match, f"no version SLA cell in {slug}'s row"
    return match.group(1).strip()


@pytest.fixture
def two_releases(db):
    """5.8.0 (monthly) 20 days ago, 5.9.0 (patch) 3 days ago."""
    now = timezone.now()
    make_release("5.8.0", kind=ReleaseKind.MONTHLY, released_at=now - timedelta(days=20))
    make_release("5.9.0", kind=ReleaseKind.PATCH, released_at=now - timedelta(days=3))


def test_two_releases_behind_is_overdue_from_the_older_release(client_for, two_releases):
    # given an instance still on 5.7.0, whose update to 5.8.0 was due 13 days ago,
    # and one on 5.8.0, which has until 5.9.0's week is over
    make_instance("old-prod", observed_version="5.7.0")
    make_instance("near-prod", observed_version="5.8.0")
    client = client_for("devops")
    # when the fleet list renders
    page = client.get(URL)
    # then the older instance is overdue (deadline: the earliest missing release + 7 days)
    assert _sla_text(page, "old-prod") == "overdue by 13 days"
    assert _sla_text(page, "near-prod") == "due in 4 days"
    # and the filters and the dashboard count it the same way
    assert _slugs(client.get(URL, {"version_sla": "overdue"})) == ["old-prod"]
    assert _slugs(client.get(URL, {"version_sla": "due"})) == ["near-prod"]
    summary = client.get("/").content.decode()
    assert ">1 overdue" in summary
    assert ">1 due<" in summary


def test_rollout_stage_is_the_stage_of_the_release_that_sets_the_deadline(
    client_for, two_releases
):
    # given an instance two releases behind, overdue on 5.8.0 (released 20 days ago)
    make_instance("old-prod", observed_version="5.7.0")
    # when the fleet list renders
    row = _row(client_for("devops").get(URL), "old-prod")
    # then the stage beside the SLA is 5.8.0's (long complete), not the 3-day-old patch's
    # "Internal instances" stage, which would say production need not have it yet
    assert "Rollout complete" in row
    assert "Internal instances" not in row


@pytest.mark.parametrize("state", [LifecycleState.SUSPENDED, LifecycleState.TORN_DOWN])
def test_suspended_and_torn_down_are_out_of_the_sla_everywhere(client_for, two_releases, state):
    # given an instance on an old version that is not running for its customer
    make_instance("idle-prod", observed_version="5.7.0", state=state)
    make_instance("live-prod", observed_version="5.9.0")
    client = client_for("devops")
    # when the fleet list renders; then its SLA cell says it is not held to it
    assert _sla_text(client.get(URL), "idle-prod") == "not held"
    # and no SLA filter lists it, not even "current"
    for value in ("current", "due", "overdue"):
        slugs = _slugs(client.get(URL, {"version_sla": value}))
        assert "idle-prod" not in slugs, value
    assert _slugs(client.get(URL, {"version_sla": "current"})) == ["live-prod"]
    # and the dashboard counts nothing overdue
    assert ">0 overdue" in client.get("/").content.decode()


def test_a_version_newer_than_the_latest_release_is_ahead(client_for, two_releases):
    # given a test instance running 5.10.0, which is not a registered release
    make_instance("canary-test", kind=InstanceKind.INTERNAL, observed_version="5.10.0")
    make_instance("current-prod", observed_version="5.9.0")
    make_instance("behind-prod", observed_version="5.8.0")
    client = client_for("devops")
    # when the fleet list renders
    page = client.get(URL)
    row = _row(page, "canary-test")
    # then its version is "ahead", and its SLA current; never behind
    assert "ahead" in row
    assert "behind" not in row
    assert _sla_text(page, "canary-test") == "current"
    # and the behind filter agrees: neither behind nor on the latest release
    assert _slugs(client.get(URL, {"behind": "true"})) == ["behind-prod"]
    assert _slugs(client.get(URL, {"behind": "false"})) == ["current-prod"]
    assert "canary-test" in _slugs(client.get(URL, {"version_sla": "current"}))


def test_version_column_and_sla_agree_on_an_instance_behind(client_for, two_releases):
    # given an instance one release behind
    make_instance("behind-prod", observed_version="5.8.0")
    page = client_for("devops").get(URL)
    row = _row(page, "behind-prod")
    # then the version column says behind by 1 and the SLA says due, not current
    assert "behind by 1" in row
    assert _sla_text(page, "behind-prod").startswith("due in")

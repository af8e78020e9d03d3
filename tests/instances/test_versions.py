"""Version semantics as every page shows them: behind / current / ahead and the version SLA.

Read through the fleet list, its filters and the dashboard, so the tests hold whichever
module computes them (instances.versions does)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from health.selectors import health_summary
from instances.choices import InstanceKind, LifecycleState, ReleaseKind
from instances.models import Instance
from instances.versions import (
    AHEAD,
    BEHIND,
    CURRENT,
    UNKNOWN,
    ReleaseHistory,
    ReleaseInfo,
    parse_version,
    position_q,
    sla_q,
    with_version,
)
from mi_admin.sla import WorkCalendar
from tests.instances.factories import make_instance, make_release, make_version_fleet
from tests.instances.pages import FLEET_URL, row_slugs


def _row(response, slug: str) -> str:
    body = response.content.decode()
    start = body.index(f'data-slug="{slug}"')
    return body[start : body.index("</tr>", start)]


def _sla_text(response, slug: str) -> str:
    # The list says it in few words ("overdue 13 d"); the whole sentence is the tooltip's first.
    match = re.search(r'data-testid="version-sla" title="([^".]*)', _row(response, slug))
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
    page = client.get(FLEET_URL)
    # then the older instance is overdue (deadline: the earliest missing release + 7 days)
    assert _sla_text(page, "old-prod") == "overdue by 13 days"
    assert _sla_text(page, "near-prod") == "due in 4 days"
    # and the filters and the dashboard count it the same way
    assert row_slugs(client.get(FLEET_URL, {"version_sla": "overdue"})) == ["old-prod"]
    assert row_slugs(client.get(FLEET_URL, {"version_sla": "due"})) == ["near-prod"]
    summary = client.get("/").content.decode()
    assert ">1 overdue" in summary
    assert ">1 due<" in summary


def test_rollout_stage_is_the_stage_of_the_release_that_sets_the_deadline(client_for, two_releases):
    # given an instance two releases behind, overdue on 5.8.0 (released 20 days ago)
    make_instance("old-prod", observed_version="5.7.0")
    # when the fleet list renders
    row = _row(client_for("devops").get(FLEET_URL), "old-prod")
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
    assert _sla_text(client.get(FLEET_URL), "idle-prod") == f"not held: {state.label.lower()}"
    # and no SLA filter lists it, not even "current"
    for value in ("current", "due", "overdue"):
        slugs = row_slugs(client.get(FLEET_URL, {"version_sla": value}))
        assert "idle-prod" not in slugs, value
    assert row_slugs(client.get(FLEET_URL, {"version_sla": "current"})) == ["live-prod"]
    # and the dashboard counts nothing overdue
    assert ">0 overdue" in client.get("/").content.decode()


def test_a_version_newer_than_the_latest_release_is_ahead(client_for, two_releases):
    # given a test instance running 5.10.0, which is not a registered release
    make_instance("canary-test", kind=InstanceKind.INTERNAL, observed_version="5.10.0")
    make_instance("current-prod", observed_version="5.9.0")
    make_instance("behind-prod", observed_version="5.8.0")
    client = client_for("devops")
    # when the fleet list renders
    page = client.get(FLEET_URL)
    row = _row(page, "canary-test")
    # then its version is "ahead", and its SLA current; never behind
    assert "ahead" in row
    assert "behind" not in row
    assert _sla_text(page, "canary-test") == "current"
    # and the behind filter agrees: neither behind nor on the latest release
    assert row_slugs(client.get(FLEET_URL, {"behind": "true"})) == ["behind-prod"]
    assert row_slugs(client.get(FLEET_URL, {"behind": "false"})) == ["current-prod"]
    assert "canary-test" in row_slugs(client.get(FLEET_URL, {"version_sla": "current"}))


def test_version_column_and_sla_agree_on_an_instance_behind(client_for, two_releases):
    # given an instance one release behind
    make_instance("behind-prod", observed_version="5.8.0")
    page = client_for("devops").get(FLEET_URL)
    row = _row(page, "behind-prod")
    # then the version column says behind by 1 and the SLA says due, not current
    assert "behind by 1" in row
    assert _sla_text(page, "behind-prod").startswith("due in")


# --- the rules, on a history built in memory -------------------------------------------------

RELEASED = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, no US holiday nearby
CALENDAR = WorkCalendar()


def _info(version: str, released_at: datetime, kind: str = ReleaseKind.MONTHLY) -> ReleaseInfo:
    key = parse_version(version)
    assert key is not None
    return ReleaseInfo(version, kind, released_at, key)


ONE_RELEASE = ReleaseHistory([_info("5.9.0", RELEASED)])


def status(observed: str, after: timedelta, kind: str = InstanceKind.PRODUCTION):
    return ONE_RELEASE.sla(
        version=observed,
        lifecycle=LifecycleState.ACTIVE,
        kind=kind,
        now=RELEASED + after,
        calendar=CALENDAR,
    )


@pytest.mark.parametrize(
    ("observed", "after", "state", "text"),
    [
        ("5.9.0", timedelta(days=1), "current", "current"),
        ("5.10.0", timedelta(days=1), "current", "current"),  # ahead of the release
        ("5.8.0", timedelta(days=2), "due", "due in 5 days"),
        ("5.8.0", timedelta(days=6, hours=23), "due", "due in 1 day"),
        ("", timedelta(days=3), "due", "due in 4 days"),
        ("5.8.0", timedelta(days=9), "overdue", "overdue by 2 days"),
        ("5.8.0", timedelta(days=7, hours=1), "overdue", "overdue by 1 day"),
    ],
)
def test_version_sla_text(observed, after, state, text):
    # given the newest release on a Monday; when an instance on `observed` is judged later
    result = status(observed, after)
    # then the state and the words are these
    assert (result.state, result.text) == (state, text)


def test_at_risk_and_rollout_stage():
    # given a production and a trial instance behind, 9 calendar (7 working) days in
    production = status("5.8.0", timedelta(days=9))
    trial = status("5.8.0", timedelta(days=9), kind=InstanceKind.TRIAL)
    # then both are in the "broad" stage: all trials, 40 % of customers
    assert production.stage is not None
    assert (production.stage.name, production.stage.working_day) == ("broad", 7)
    assert (production.stage_target_pct, trial.stage_target_pct) == (40, 100)
    assert trial.expected_now
    assert not production.expected_now
    assert production.level == "bad"
    # and two days after the release only internal instances should have it
    early = status("5.8.0", timedelta(days=2))
    assert early.stage is not None
    assert (early.stage.name, early.stage_target_pct, early.level) == ("internal", 0, "idle")
    # and the last day of the week is at risk
    assert status("5.8.0", timedelta(days=6, hours=23)).level == "warn"


def test_no_release_yet():
    # given no release; when judged; then there is nothing due, and no version is placed
    empty = ReleaseHistory([])
    result = empty.sla(
        version="5.8.0",
        lifecycle=LifecycleState.ACTIVE,
        kind="trial",
        now=RELEASED,
        calendar=CALENDAR,
    )
    assert (result.state, result.text) == ("no_release", "no release recorded")
    assert empty.position("5.8.0").state == UNKNOWN


HISTORY = ReleaseHistory(
    [
        _info("5.9.0", RELEASED),
        _info("5.7.0", RELEASED - timedelta(days=60)),
        _info("5.8.0", RELEASED - timedelta(days=30)),
        # a fix to the 5.8 line published after 5.9.0: newer than 5.8.0, not than 5.9.0
        _info("5.8.1", RELEASED + timedelta(days=2), ReleaseKind.PATCH),
    ]
)


@pytest.mark.parametrize("kind", list(ReleaseKind))
def test_every_release_kind_has_a_rollout_schedule(kind):
    # given a release of each kind the registry accepts; when its SLA is judged a day later
    history = ReleaseHistory([_info("5.9.0", RELEASED, kind)])
    result = history.sla(
        version="5.8.0",
        lifecycle=LifecycleState.ACTIVE,
        kind=InstanceKind.INTERNAL,
        now=RELEASED + timedelta(days=1),
        calendar=CALENDAR,
    )
    # then the platform's schedule knows the kind (it keys on the same values)
    assert result.stage is not None
    assert result.stage.name == "internal"


@pytest.mark.parametrize(
    ("version", "state", "behind"),
    [
        ("5.9.0", CURRENT, None),
        ("v5.9.0", CURRENT, None),
        ("5.8.1", BEHIND, 1),
        ("5.8.0", BEHIND, 2),
        ("5.7.0", BEHIND, 3),
        ("5.7.5", BEHIND, 3),  # not registered, but ordered by its number
        ("5.10.0", AHEAD, None),
        ("6.0.0", AHEAD, None),
        ("", UNKNOWN, None),
        ("dev-1a2b3c", UNKNOWN, None),
    ],
)
def test_position_orders_by_version_number(version, state, behind):
    # when a version is placed against the history; then it is current, behind by N, ahead
    # or unknown, and never two of them
    position = HISTORY.position(version)
    assert (position.state, position.behind) == (state, behind)
    assert HISTORY.latest is not None
    assert HISTORY.latest.version == "5.9.0"


def test_deadline_is_the_earliest_published_newer_release():
    # given 5.8.0, which misses 5.8.1 (published after 5.9.0) and 5.9.0
    bound = HISTORY.deadline_release("5.8.0")
    # then 5.9.0, published first, sets the deadline
    assert bound is not None
    assert bound.version == "5.9.0"
    # and 5.9.0 is not bound by the later 5.8.1
    assert HISTORY.deadline_release("5.9.0") is None
    # and an unorderable version answers to the newest release
    unknown = HISTORY.deadline_release("dev")
    assert unknown is not None
    assert unknown.version == "5.9.0"


# --- the same rules in SQL --------------------------------------------------------------------


@pytest.fixture
def fleet(db):
    return make_version_fleet()


def slugs(queryset) -> set[str]:
    return set(queryset.values_list("slug", flat=True))


def _sla(value: str) -> set[str]:
    history = ReleaseHistory.load()
    return slugs(with_version(Instance.objects.all()).filter(sla_q(value, history, timezone.now())))


def _position(value: str) -> set[str]:
    history = ReleaseHistory.load()
    return slugs(with_version(Instance.objects.all()).filter(position_q(value, history)))


def test_filters_and_summary_when_overdue(fleet):
    # given the newest release 10 days ago (so past its week)
    make_release("5.8.0", released_at=timezone.now() - timedelta(days=40))
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=10))
    # when filtered by version SLA
    # then b is the only overdue one; the suspended c is not held to it
    assert _sla("overdue") == {"b-prod"}
    assert _sla("due") == set()
    assert _sla("current") == {"a-prod", "d-prod", "e-trial"}
    # and by position: e is ahead, b and c behind
    assert _position(BEHIND) == {"b-prod", "c-prod"}
    assert _position(CURRENT) == {"a-prod", "d-prod"}
    assert _position(AHEAD) == {"e-trial"}
    summary = health_summary()
    assert (summary.overdue, summary.due, summary.latest_version) == (1, 0, "5.9.0")


def test_filters_and_summary_within_the_week(fleet):
    # given the newest release 2 days ago
    make_release("5.9.0", released_at=timezone.now() - timedelta(days=2))
    # then b is due, not overdue
    assert _sla("due") == {"b-prod"}
    assert _sla("overdue") == set()
    assert (health_summary().overdue, health_summary().due) == (0, 1)

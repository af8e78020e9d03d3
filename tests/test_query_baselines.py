"""Query-count baselines of every page, list and detail, in one place (as NetBox keeps them).

Each page is measured at two fleet sizes (the larger with a longer audit trail); both must
equal its baseline, so a page whose queries grow with the fleet or the trail (an N+1) or
whose count drifts fails here. When a change adds a
query on purpose, update the number below in the same commit and say why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health.models import (
    HealthTransition,
    Incident,
    IncidentNote,
    InstanceHealth,
    MaintenanceWindow,
)
from instances.choices import (
    InstanceKind,
    OperationKind,
    OperationState,
    ProvisioningStep,
    StepState,
    TrialNoticeKind,
)
from instances.models import Instance, Operation, Release, TrialNotice
from instances.services.provisioning import instance_provision_start, provisioning_check_tick
from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record
from rollouts.models import Rollout, RolloutTarget, RolloutWave
from tests.access.factories import make_access_grant
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_customer, make_fleet, make_instance, make_operation
from tests.mi_requests.factories import make_request

SMALL, LARGE = 10, 400
TRAIL_EVENTS = 60  # added with the large fleet

# Every page as the admin persona sees it (every widget, panel and action shown). Each
# count includes the session, the user and their groups (3 queries), not repeated below.
BASELINES: dict[str, int] = {
    # health counts; releases, fleet versions, due/overdue; fleet counts; recent audit events
    # +1: the "My customers" widget's count; +3: control plane (beat rows, runs, workers)
    "dashboard": 13,
    # releases; count; page; health rows and status bars (registered columns); the
    # person's table columns (one read, whatever the page size)
    "instance_list": 9,
    # + the fleet's distinct versions (read once for both version filters)
    "instance_list_filtered": 10,
    # + the fleet's distinct versions (unregistered builds sort by number)
    "instance_list_by_version_page_2": 10,
    "instance_list_partial": 9,
    # sorting by a registered column's expression costs no query of its own
    "instance_list_by_health": 9,
    "instance_list_by_uptime": 9,
    # + the fleet's distinct versions (each version's deadline, in the ORDER BY)
    "instance_list_by_version_sla": 10,
    # the person's table columns
    "instance_list_columns": 4,
    # releases; the rows (one chunked cursor)
    "instance_export": 5,
    # instance; recent operations; releases; health panel (rows, bar); access panel (grants);
    # provisioning panel (its record); owner panel (the people DevOps/Admins may pick)
    # +2: the status bar's day cells explain themselves (that span's down incidents; windows)
    "instance_detail": 13,
    # + provisioning panel: its checks (with who ticked), the last VM check; trial notices
    "instance_detail_provisioning": 16,
    # instance; one query per timeline source (operations, versions, audit, transitions,
    # incidents, windows, grants, rollout targets, requests)
    "instance_timeline": 13,
    "instance_timeline_export": 13,
    "provisioning_list": 5,  # count; page (checklist progress annotated)
    "provision_new": 5,  # the customers and the people of the form's two choices
    # instance; health rows, bar; releases; windows; transitions; incidents
    # +2: the bar's day cells (that span's down incidents; windows for maintenance minutes)
    "instance_health": 12,
    "window_add": 4,  # instance
    "mark_maintenance": 4,  # instance
    # the fleet (live in the month); its rollups; its windows; its incidents
    "uptime_report": 7,
    "uptime_report_export": 7,
    # instance; its rollups; its windows; its incidents
    "instance_uptime_report": 7,
    "instance_uptime_report_export": 7,
    "operation_list": 5,  # count; page
    "operation_detail": 5,  # operation; its steps
    "audit_list": 5,  # count; page
    "audit_export": 4,  # the rows (one chunked cursor)
    "operation_detail_partial": 5,  # the live step log htmx polls: operation; its steps
    "audit_list_partial": 5,  # count; page
    "audit_export_json": 4,  # the rows (one chunked cursor)
    "rollout_list": 6,  # count; page (target counts annotated); the freeze
    # rollout; waves; targets; their instances; their operations; the freeze
    "rollout_detail": 9,
    "rollout_detail_partial": 9,  # the live block htmx polls: the same reads
    # rollout; its targets (wave, instance, operation); the verified test upgrades
    "rollout_report": 6,
    "rollout_report_export": 6,
    # The JSON API through the browser session (tokens add none: roles come with the token).
    # the page (a cursor: no count); releases; health rows and status bars (api_fields)
    "api_instance_list": 7,
    # + the filters' release history and fleet versions
    "api_instance_list_filtered": 9,
    # the instance; its operations; releases; health rows and bars; SLA calendar reads
    "api_instance_detail": 9,
    "api_release_list": 4,
    # the operation with its joins; its steps
    "api_operation_detail": 5,
    # the page of events (a cursor: no count)
    "api_audit_event_list": 4,
    # the events, one chunked cursor
    "api_audit_event_export": 4,
}

PAGES: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    # name: (url, query, headers); {slug} and {op} are the measured instance and operation
    "dashboard": ("/", {}, {}),
    "instance_list": ("/instances/", {}, {}),
    "instance_list_filtered": (
        "/instances/",
        {"q": "cust", "behind": "true", "version_sla": "overdue", "health": "unknown"},
        {},
    ),
    "instance_list_by_version_page_2": ("/instances/", {"sort": "-version", "page": "2"}, {}),
    "instance_list_partial": ("/instances/", {"drift": "none"}, {"HTTP_HX_REQUEST": "true"}),
    "instance_list_by_health": ("/instances/", {"sort": "health"}, {}),
    "instance_list_by_uptime": ("/instances/", {"sort": "-uptime"}, {}),
    "instance_list_by_version_sla": ("/instances/", {"sort": "version_sla"}, {}),
    "instance_list_columns": ("/instances/table/columns/", {}, {}),
    "instance_export": ("/instances/export.csv", {"state": "active"}, {}),
    "instance_detail": ("/instances/{slug}/", {}, {}),
    "instance_detail_provisioning": ("/instances/{trial}/", {}, {}),
    "instance_timeline": ("/instances/{slug}/timeline/", {}, {}),
    "instance_timeline_export": ("/instances/{slug}/timeline.csv", {}, {}),
    "provisioning_list": ("/provisioning/", {}, {}),
    "provision_new": ("/provisioning/new/", {}, {}),
    "instance_health": ("/health/{slug}/", {}, {}),
    "window_add": ("/health/{slug}/windows/add/", {}, {}),
    "mark_maintenance": ("/health/{slug}/mark-maintenance/", {}, {}),
    "uptime_report": ("/reports/uptime/", {}, {}),
    "uptime_report_export": ("/reports/uptime.csv", {}, {}),
    "instance_uptime_report": ("/reports/uptime/{slug}/", {}, {}),
    "instance_uptime_report_export": ("/reports/uptime/{slug}.csv", {}, {}),
    "operation_list": ("/operations/", {}, {}),
    "operation_detail": ("/operations/{op}/", {}, {}),
    "audit_list": ("/audit/", {}, {}),
    "audit_export": ("/audit/export.csv", {}, {}),
    "operation_detail_partial": ("/operations/{op}/", {}, {"HTTP_HX_REQUEST": "true"}),
    "audit_list_partial": ("/audit/", {"action": "auth"}, {"HTTP_HX_REQUEST": "true"}),
    "audit_export_json": ("/audit/export.json", {}, {}),
    "rollout_list": ("/rollouts/", {}, {}),
    "rollout_detail": ("/rollouts/{rollout}/", {}, {}),
    "rollout_detail_partial": ("/rollouts/{rollout}/", {}, {"HTTP_HX_REQUEST": "true"}),
    "rollout_report": ("/rollouts/{rollout}/report/", {}, {}),
    "rollout_report_export": ("/rollouts/{rollout}/report.csv", {}, {}),
    "api_instance_list": ("/api/v1/instances/", {}, {}),
    "api_instance_list_filtered": (
        "/api/v1/instances/",
        {"behind": "true", "version_sla": "overdue", "health": "unknown"},
        {},
    ),
    "api_instance_detail": ("/api/v1/instances/{slug}/", {}, {}),
    "api_release_list": ("/api/v1/releases/", {}, {}),
    "api_operation_detail": ("/api/v1/operations/{op}/", {}, {}),
    "api_audit_event_list": ("/api/v1/audit/events/", {"action": "test"}, {}),
    "api_audit_event_export": ("/api/v1/audit/events/export/", {}, {}),
}


@pytest.fixture
def measured(db):
    """One instance with health, history, windows and a finished operation: the detail
    pages are measured on it, whatever the fleet around it."""
    instance = make_instance("measured-prod", observed_version="5.8.0")
    now = timezone.now()
    InstanceHealth.objects.create(instance=instance, state="healthy", last_probe_at=now)
    HealthTransition.objects.create(
        instance=instance, from_state="unknown", to_state="healthy", at=now, reason="probe ok"
    )
    MaintenanceWindow.objects.create(
        instance=instance,
        kind="one_off",
        reason="upgrade",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=1),
    )
    operation = make_operation(
        instance,
        state=OperationState.SUCCEEDED,
        steps=[("read VM", StepState.DONE), ("compare", StepState.DONE)],
    )
    rollout = _measured_rollout(instance, operation)
    trial = _measured_trial()
    return {
        "slug": instance.slug,
        "op": str(operation.pk),
        "rollout": str(rollout.pk),
        "trial": trial.slug,
    }


def _measured_trial() -> Instance:
    """A provisioning trial, boxes ticked by two people, a failed VM check, a notice."""
    devops, admin = make_persona("devops"), make_persona("admin")
    trial = instance_provision_start(
        actor=devops,
        reason="measured",
        customer=make_customer("measured-new"),
        slug="measured-new-trial",
        kind=InstanceKind.TRIAL,
        architecture="v1.1",
        admin_contact="admin@measured.example",
    )
    provisioning_check_tick(instance=trial, step=ProvisioningStep.DNS, actor=devops)
    provisioning_check_tick(instance=trial, step=ProvisioningStep.SSO, actor=admin)
    make_operation(trial, kind=OperationKind.PROVISION_VERIFY, state=OperationState.FAILED)
    Instance.objects.filter(pk=trial.pk).update(trial_ends_on=timezone.localdate())
    TrialNotice.objects.create(
        instance=trial, kind=TrialNoticeKind.DECISION_ASKED, trial_ends_on=timezone.localdate()
    )
    return trial


def _measured_rollout(measured: Instance, operation: Operation) -> Rollout:
    """A running rollout of two waves, one target upgrading (its operation) and one pending."""
    release = Release.objects.create(version="9.0.0", released_at=timezone.now())
    rollout = Rollout.objects.create(release=release, state="running")
    other = make_instance("measured-trial", observed_version="5.8.0")
    for position, (instance, op) in enumerate([(measured, operation), (other, None)]):
        wave = RolloutWave.objects.create(
            rollout=rollout, position=position, name=f"w{position}", earliest_start=timezone.now()
        )
        RolloutTarget.objects.create(
            rollout=rollout,
            wave=wave,
            instance=instance,
            operation=op,
            state="upgrading" if op else "pending",
        )
    return rollout


def _grow_the_trail(actor: User) -> None:
    """Events by a person (the audit list and the dashboard must not read each one's actor
    or object row by row)."""
    for i in range(TRAIL_EVENTS):
        audit_record(action="test.bulk", actor=actor, object_repr=f"thing {i}")


def _count(client, url: str, query: dict[str, str], headers: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query, **headers)
        if response.streaming:
            b"".join(response.streaming_content)  # an export reads as it streams
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries)


@pytest.mark.parametrize("name", list(PAGES))
def test_query_count_is_the_baseline_at_two_fleet_sizes(
    name: str, client_for: Callable, measured: dict[str, str]
):
    # given the admin and a small fleet around the measured instance
    url, query, headers = PAGES[name]
    url = url.format(**measured)
    client = client_for("admin")
    make_fleet(SMALL)
    client.get(url, query, **headers)  # warm per-process caches (content types, templates)
    # when the page renders for the small fleet, then for a large one with a longer trail
    small = _count(client, url, query, headers)
    make_fleet(LARGE, prefix="more")
    _grow_the_trail(User.objects.get(username="admin"))
    large = _count(client, url, query, headers)
    # then both cost the baseline
    assert (small, large) == (BASELINES[name], BASELINES[name])


# The approvals pages, as a manager sees them (the inbox lists what waits for the viewer).
# Each includes the session, the user and their groups (3 queries).
APPROVAL_BASELINES: dict[str, int] = {
    # the viewer's groups (for the inbox filter); count; page with each row's approvals
    "approval_inbox": 6,
    # request; its reviews with their reviewers (the viewer reviewed it: no groups needed)
    "approval_detail": 5,
    # the viewer's groups; the page (a cursor: no count)
    "api_approval_list": 5,
    # the same reads as the page
    "api_approval_detail": 5,
}


def _approval_fixture(requests: int, reviews: int) -> tuple[str, str]:
    """``requests`` pending requests waiting for managers, and one under a quorum-50 policy
    carrying ``reviews`` approvals; returns the inbox and that request's URLs."""
    from mi_admin.approvals.choices import Decision
    from mi_admin.approvals.models import ApprovalPolicy, Review
    from tests.approvals.factories import make_approval_request
    from tests.fixtures.personas import make_persona

    devops = make_persona("devops")
    for _ in range(requests):
        make_approval_request(devops)
    policy, _ = ApprovalPolicy.objects.get_or_create(slug="big-quorum", name="Big quorum")
    if not policy.steps.exists():
        policy.steps.create(position=1, name="Managers", reviewer_roles=["mi-managers"], quorum=50)
    measured = _request_under(policy, devops)
    for n in range(measured.reviews.count(), reviews):
        reviewer = make_persona("manager") if n == 0 else _manager(f"reviewer-{n}")
        Review.objects.create(
            request=measured,
            step=1,
            reviewer=reviewer,
            requester=devops,
            decision=Decision.APPROVE,
            created_at=timezone.now(),
        )
    return "/approvals/", f"/approvals/{measured.pk}/"


def _request_under(policy, requester):
    from mi_admin.approvals.models import ApprovalRequest
    from tests.approvals.factories import make_approval_request

    existing = ApprovalRequest.objects.filter(policy=policy).first()
    if existing is not None:
        return existing
    steps = [step.snapshot() for step in policy.steps.order_by("position")]
    return make_approval_request(requester, policy=policy, policy_name=policy.name, steps=steps)


def _manager(name: str):
    from django.contrib.auth.models import Group

    from mi_admin.accounts.models import User

    user = User.objects.create(username=name, oidc_sub=f"sub-{name}")
    user.groups.add(Group.objects.get_or_create(name="mi-managers")[0])
    return user


@pytest.mark.parametrize("name", list(APPROVAL_BASELINES))
def test_approval_pages_query_count_is_the_baseline(name: str, client_for: Callable):
    # given a manager, a few pending requests, and a request with one review
    client = client_for("manager")
    inbox, detail = _approval_fixture(requests=3, reviews=1)
    url = {
        "approval_inbox": inbox,
        "approval_detail": detail,
        "api_approval_list": "/api/v1/approvals/",
        "api_approval_detail": "/api/v1/approvals/" + detail.split("/")[-2] + "/",
    }[name]
    client.get(url)  # warm per-process caches
    # when the page renders, then again with many more requests and reviews
    small = _count(client, url, {}, {})
    _approval_fixture(requests=60, reviews=20)
    large = _count(client, url, {}, {})
    # then both cost the baseline
    assert (small, large) == (APPROVAL_BASELINES[name], APPROVAL_BASELINES[name])


# An access request's approval page also carries access's review panel (registered): the 6
# of approval_detail (no review yet, so the viewer's groups are read) + the grant with its
# instance, customer, level, requester; the instance's health columns (rows, bar); the
# requester's grants in the 90 days; who else holds access now
ACCESS_APPROVAL_BASELINE = 11


def _access_approval_fixture(past: int, others: int) -> str:
    """A pending access request by devops on acme-prod, ``past`` earlier grants of theirs
    and ``others`` people holding access on the instance now; returns its approval URL."""
    from access.choices import GrantState
    from access.models import AccessGrant
    from tests.access.conftest import level, make_instance, request_grant
    from tests.fixtures.personas import make_persona

    devops = make_persona("devops")
    instance = Instance.objects.filter(slug="acme-prod").first() or make_instance()
    grant = AccessGrant.objects.filter(
        requester=devops, state=GrantState.PENDING
    ).first() or request_grant(devops, instance)
    now = timezone.now()
    for n in range(AccessGrant.objects.filter(requester=devops).count() - 1, past):
        AccessGrant.objects.create(
            requester=devops,
            instance=instance,
            level=level(),
            member="user:devops@example.com",
            justification=f"past {n}",
            duration=timedelta(minutes=30),
            requested_start=now,
            state=GrantState.EXPIRED,
        )
    for n in range(AccessGrant.objects.filter(state=GrantState.ACTIVE).count(), others):
        AccessGrant.objects.create(
            requester=_manager(f"holder-{n}"),
            instance=instance,
            level=level(),
            member=f"user:holder-{n}@example.com",
            justification="on call",
            duration=timedelta(minutes=30),
            requested_start=now,
            state=GrantState.ACTIVE,
            activated_at=now,
            expires_at=now + timedelta(minutes=30),
        )
    assert grant.approval_request is not None
    return f"/approvals/{grant.approval_request.pk}/"


def test_an_access_approval_page_query_count_is_the_baseline(client_for: Callable):
    # given a manager, an access request with one earlier grant and one other holder
    client = client_for("manager")
    url = _access_approval_fixture(past=1, others=1)
    assert 'data-testid="access-review"' in client.get(url).content.decode()
    # when the page renders, then again with 40 earlier grants and 25 holders, 400 instances
    small = _count(client, url, {}, {})
    _access_approval_fixture(past=40, others=25)
    make_fleet(LARGE, prefix="more")
    large = _count(client, url, {}, {})
    # then both cost the baseline
    assert (small, large) == (ACCESS_APPROVAL_BASELINE, ACCESS_APPROVAL_BASELINE)


# The access API as a manager reads it (each includes the session, the user and their
# groups: 3 queries).
ACCESS_API_BASELINES: dict[str, int] = {
    # the page of grants with instance, customer, level, requester, ended by, approval
    # request (one join)
    "api_grant_list": 4,
    # the grant with its joins
    "api_grant_detail": 4,
}


@pytest.mark.parametrize("name", list(ACCESS_API_BASELINES))
def test_access_api_query_count_is_the_baseline(name: str, client_for: Callable):
    # given a manager, an access request with one earlier grant and one other holder
    client = client_for("manager")
    approval_url = _access_approval_fixture(past=1, others=1)
    grant = Instance.objects.get(slug="acme-prod").access_grants.filter(state="pending").get()
    url = "/api/v1/access/grants/" + (f"{grant.pk}/" if name == "api_grant_detail" else "")
    assert approval_url
    client.get(url)  # warm per-process caches
    # when it is read, then again with 40 earlier grants and 25 holders
    small = _count(client, url, {}, {})
    _access_approval_fixture(past=40, others=25)
    large = _count(client, url, {}, {})
    # then both cost the baseline
    assert (small, large) == (ACCESS_API_BASELINES[name], ACCESS_API_BASELINES[name])


# The request pages, as DevOps sees them (every request listed, every action offered). Each
# includes the session, the user and their groups (3 queries).
REQUEST_BASELINES: dict[str, int] = {
    "request_list": 6,  # count; page (requester, customer, instance, handler); its pauses
    "request_list_partial": 6,  # the same reads
    # request (with its operation); timeline with actors; pauses; approvals
    "request_detail": 7,
    "request_new": 4,  # the active instances for the choice
    "request_sla_report": 5,  # count of kind x month groups; the page
    "request_sla_report_export": 4,  # the groups (one query)
}
REQUEST_PAGES: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "request_list": ("/requests/", {}, {}),
    "request_list_partial": ("/requests/", {"status": "open"}, {"HTTP_HX_REQUEST": "true"}),
    "request_detail": ("/requests/{pk}/", {}, {}),
    "request_new": ("/requests/new/", {"kind": "suspension"}, {}),
    "request_sla_report": ("/requests/sla/", {}, {}),
    "request_sla_report_export": ("/requests/sla/export.csv", {}, {}),
}


def _requests_fixture(n: int, events: int) -> int:
    """``n`` requests (some acknowledged, approved, waiting), and one measured request with
    ``events`` comments and a question; returns the measured request's pk."""
    from django.db.models import F

    from mi_requests.models import CustomerRequest, RequestEvent, RequestPause
    from tests.fixtures.personas import make_persona
    from tests.mi_requests.factories import make_request

    ce, devops = make_persona("ce"), make_persona("devops")
    now = timezone.now()
    start = CustomerRequest.objects.count()
    for i in range(start, start + n):
        instance = make_instance(f"req-{i}")
        request = make_request(ce, instance)
        if i % 3:
            CustomerRequest.objects.filter(pk=request.pk).update(
                state="approved" if i % 3 == 1 else "waiting",
                resume_state="" if i % 3 == 1 else "approved",
                acknowledged_at=F("submitted_at"),
                approved_at=F("submitted_at"),
                handler=devops,
                resolution_due_at=now + timedelta(days=21),
            )
        if i % 3 == 2:
            RequestPause.objects.create(
                request=request, question="?", asked_by=devops, started_at=now
            )
    measured = CustomerRequest.objects.order_by("pk").first()
    assert measured is not None
    for _ in range(events):
        RequestEvent.objects.create(
            request=measured, at=now, actor=ce, action="comment", comment="c"
        )
    return measured.pk


@pytest.mark.parametrize("name", list(REQUEST_BASELINES))
def test_request_pages_query_count_is_the_baseline(name: str, client_for: Callable):
    # given DevOps and a few requests
    client = client_for("devops")
    pk = _requests_fixture(5, events=2)
    url, query, headers = REQUEST_PAGES[name]
    url = url.format(pk=pk)
    client.get(url, query, **headers)  # warm per-process caches
    # when the page renders, then again with many more requests and a longer timeline
    small = _count(client, url, query, headers)
    _requests_fixture(60, events=30)
    large = _count(client, url, query, headers)
    # then both cost the baseline
    assert (small, large) == (REQUEST_BASELINES[name], REQUEST_BASELINES[name])


# The fleet's incidents, as the admin sees them: session, user, groups (3); count; page
# (instance, customer, acknowledger and note count joined in).
INCIDENT_BASELINES: dict[str, tuple[str, dict[str, str], dict[str, str], int]] = {
    "incident_list": ("/incidents/", {}, {}, 5),
    "incident_list_filtered": (
        "/incidents/",
        {"instance": "cust", "cause": "down", "state": "open", "since": "2000-01-01T00:00"},
        {},
        5,
    ),
    "incident_list_partial": ("/incidents/", {"state": "open"}, {"HTTP_HX_REQUEST": "true"}, 5),
}


def _incidents_for(instances: list[Instance], actor: User) -> None:
    """An open incident per instance, every other acknowledged and with a note."""
    now = timezone.now()
    for i, instance in enumerate(instances):
        incident = Incident.objects.create(
            instance=instance,
            cause="down",
            dedup_key=f"mi-admin/{instance.slug}/down",
            summary=f"{instance.slug} is down",
            opened_at=now - timedelta(minutes=i),
            acknowledged_at=now if i % 2 else None,
            acknowledged_by=actor if i % 2 else None,
        )
        if i % 2:
            IncidentNote.objects.create(incident=incident, author=actor, text="on it")


@pytest.mark.parametrize("name", list(INCIDENT_BASELINES))
def test_incident_list_query_count_is_the_baseline(name: str, client_for: Callable):
    # given the admin and incidents on a small fleet
    url, query, headers, expected = INCIDENT_BASELINES[name]
    client = client_for("admin")
    admin = User.objects.get(username="admin")
    _incidents_for(make_fleet(SMALL), admin)
    client.get(url, query, **headers)
    small = _count(client, url, query, headers)
    # when the fleet grows, with many more incidents, acknowledgements and notes
    _incidents_for(make_fleet(LARGE, prefix="more"), admin)
    large = _count(client, url, query, headers)
    # then the list costs the same
    assert (small, large) == (expected, expected)


# The instance timeline as its events grow past a page: one query per source, whatever the
# number of events (each source reads at most a page of its newest).
TIMELINE_BASELINE = BASELINES["instance_timeline"]


def _grow_the_story(instance: Instance, n: int) -> None:
    """``n`` more events of each kind that has rows on ``instance`` (page size is 50)."""
    devops = make_persona("devops")
    now = timezone.now()
    for i in range(n):
        at = now - timedelta(minutes=i + 1)
        make_operation(instance, state=OperationState.SUCCEEDED, actor=devops, finished_at=at)
        HealthTransition.objects.create(
            instance=instance, from_state="healthy", to_state="down", at=at, reason="probe"
        )
        Incident.objects.create(
            instance=instance,
            cause="down",
            dedup_key=f"grow-{i}",
            state="resolved",
            summary="down",
            opened_at=at,
            resolved_at=at,
        )
        audit_record(action="instance.owner_changed", obj=instance, actor=devops)
        make_access_grant(devops, instance)
        make_request(devops, instance, submitted_at=at)


@pytest.mark.parametrize("name", ["instance_timeline", "instance_timeline_export"])
def test_the_timeline_query_count_stays_flat_as_events_grow(
    name: str, client_for: Callable, measured: dict[str, str]
):
    # given the admin and the measured instance with a few events of each kind
    url = PAGES[name][0].format(**measured)
    client = client_for("admin")
    instance = Instance.objects.get(slug=measured["slug"])
    _grow_the_story(instance, 3)
    client.get(url)  # warm per-process caches
    few = _count(client, url, {}, {})
    # when every kind has more events than a page holds
    _grow_the_story(instance, 60)
    many = _count(client, url, {}, {})
    # then both cost the baseline, and the page still shows one page of them
    assert (few, many) == (TIMELINE_BASELINE, TIMELINE_BASELINE)
    if name == "instance_timeline":
        assert client.get(url).content.decode().count('data-testid="timeline-event"') == 50


# The rollouts API as a manager reads it (each includes the session, the user and their
# groups: 3 queries).
ROLLOUT_API_BASELINES: dict[str, int] = {
    # the page of rollouts with release and creator (one join), target counts annotated
    "api_rollout_list": 4,
    # the rollout with its joins; waves; their targets; the targets' instances; operations
    "api_rollout_detail": 8,
}


def _rollouts_with_targets(rollouts: int, targets: int) -> Rollout:
    """``rollouts`` rollouts of a new release, each of two waves sharing ``targets``
    instances, half done (an operation), the rest pending; returns the last."""
    release = Release.objects.create(
        version=f"9.{Release.objects.count()}.0", released_at=timezone.now()
    )
    instances = make_fleet(targets, with_history=False, prefix=f"ro{release.pk}")
    rollout = None
    for _ in range(rollouts):
        rollout = Rollout.objects.create(release=release, created_by=make_persona("devops"))
        waves = [
            RolloutWave.objects.create(
                rollout=rollout, position=p, name=f"w{p}", earliest_start=timezone.now()
            )
            for p in (0, 1)
        ]
        for i, instance in enumerate(instances):
            operation = make_operation(instance, state=OperationState.SUCCEEDED) if i % 2 else None
            RolloutTarget.objects.create(
                rollout=rollout,
                wave=waves[i % 2],
                instance=instance,
                operation=operation,
                state="done" if operation else "pending",
            )
    assert rollout is not None
    return rollout


@pytest.mark.parametrize("name", list(ROLLOUT_API_BASELINES))
def test_rollout_api_query_count_is_the_baseline(name: str, client_for: Callable):
    # given a manager and one rollout of four targets
    client = client_for("manager")
    rollout = _rollouts_with_targets(1, 4)
    url = "/api/v1/rollouts/" + (f"{rollout.pk}/" if name == "api_rollout_detail" else "")
    client.get(url)  # warm per-process caches
    # when it is read, then again with more rollouts and forty targets in the measured one
    small = _count(client, url, {}, {})
    bigger = _rollouts_with_targets(5, 40)
    if name == "api_rollout_detail":
        url = f"/api/v1/rollouts/{bigger.pk}/"
    large = _count(client, url, {}, {})
    # then both cost the baseline
    assert (small, large) == (ROLLOUT_API_BASELINES[name], ROLLOUT_API_BASELINES[name])


# The requests and health API through DevOps's browser session (session, user, groups: 3
# queries; a cursor page has no count).
REQUESTS_HEALTH_API_BASELINES: dict[str, tuple[str, dict[str, str], int]] = {
    # the page (requester, customer, instance, handler joined); its pauses (the clocks)
    "api_request_list": ("/api/v1/requests/", {}, 5),
    "api_request_list_filtered": ("/api/v1/requests/", {"status": "open", "kind": "suspension"}, 5),
    # the request (with its operation); timeline with actors; pauses; approvals
    "api_request_detail": ("/api/v1/requests/{pk}/", {}, 7),
    # the page (instance, customer, acknowledger and note count joined in)
    "api_incident_list": ("/api/v1/incidents/", {}, 4),
    "api_incident_list_filtered": ("/api/v1/incidents/", {"state": "open", "cause": "down"}, 4),
    # the instance; its three uptime figures (one query)
    "api_instance_uptime": ("/api/v1/instances/{slug}/uptime/", {}, 5),
}


@pytest.mark.parametrize("name", list(REQUESTS_HEALTH_API_BASELINES))
def test_requests_and_health_api_query_count_is_the_baseline(name: str, client_for: Callable):
    # given DevOps, a few requests and incidents on a small fleet
    url, query, expected = REQUESTS_HEALTH_API_BASELINES[name]
    client = client_for("devops")
    devops = User.objects.get(username="devops")
    pk = _requests_fixture(5, events=2)
    fleet = make_fleet(SMALL)
    _incidents_for(fleet, devops)
    url = url.format(pk=pk, slug=fleet[0].slug)
    client.get(url, query)  # warm per-process caches
    small = _count(client, url, query, {})
    # when there are many more requests, events, incidents and instances
    _requests_fixture(60, events=30)
    _incidents_for(make_fleet(LARGE, prefix="more"), devops)
    large = _count(client, url, query, {})
    # then both cost the baseline
    assert (small, large) == (expected, expected)

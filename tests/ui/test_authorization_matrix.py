"""Every URL of the URLconf, for every persona, against a table of expected outcomes.

A view added without a row here fails ``test_every_url_has_an_expectation``; a view without
an authorization rule fails ``manage.py check`` (mi_admin.E002) and answers 403 to everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.urls import reverse

from health.models import Incident
from instances.choices import OperationState
from instances.models import Release
from mi_admin.accounts.checks import iter_patterns
from mi_admin.accounts.rules import Rule, is_delegated, rule_of
from rollouts.models import Rollout
from tests.access.factories import make_access_grant
from tests.approvals.factories import make_approval_request
from tests.fixtures.personas import PERSONAS, make_persona
from tests.instances.factories import make_deletion_record, make_instance, make_operation
from tests.mi_requests.factories import make_request

LOGIN = 302  # anonymous: sent to the login page
DENY = 403


@dataclass(frozen=True)
class Row:
    expect: dict[str, int]
    method: str = "get"
    kwargs: dict[str, str] = field(default_factory=dict)
    query: str = ""
    anonymous_redirect: str = "/login/"


def everyone(code: int, *, anonymous: int = LOGIN, stranger: int = DENY) -> dict[str, int]:
    return {
        "anonymous": anonymous,
        "stranger": stranger,
        "ce": code,
        "devops": code,
        "manager": code,
        "admin": code,
    }


def only(code: int, *allowed: str) -> dict[str, int]:
    expect = {
        "anonymous": LOGIN,
        "stranger": DENY,
        "ce": DENY,
        "devops": DENY,
        "manager": DENY,
        "admin": DENY,
    }
    expect.update(dict.fromkeys(allowed, code))
    return expect


MATRIX: dict[str, Row] = {
    # `/`: a CE who owns customers is sent to "My customers" (tests/ui/test_landing.py);
    # the matrix's CE owns none, so everyone gets the dashboard here.
    "ui:home": Row(everyone(200)),
    "ui:dashboard": Row(everyone(200)),
    "ui:healthz": Row(everyone(200, anonymous=200, stranger=200)),
    # Readiness: the test database and Redis are up.
    "ui:readyz": Row(everyone(200, anonymous=200, stranger=200)),
    # Prometheus: no Okta login, but its own check (bearer token or allowed network); the
    # test settings configure neither, so everyone is refused, signed in or not.
    "metrics:metrics": Row(everyone(403, anonymous=403, stranger=403)),
    "accounts:login": Row(everyone(200, anonymous=200, stranger=200)),
    # The OIDC handshake: init sends anyone to the provider, a bare callback back to login.
    "oidc_authentication_init": Row(
        everyone(302, anonymous=302, stranger=302), anonymous_redirect=settings.OIDC_ISSUER
    ),
    "oidc_authentication_callback": Row(everyone(302, anonymous=302, stranger=302)),
    # Logging out is open to anyone signed in (even without a role); it ends at the provider.
    "accounts:logout": Row(everyone(302, anonymous=302, stranger=302), method="post"),
    "audit:event_list": Row(only(200, "devops", "admin")),
    "audit:event_export": Row(only(200, "devops", "admin"), kwargs={"fmt": "csv"}),
    # The fleet; the objects named here come from the matrix_objects fixture.
    "instances:instance_list": Row(everyone(200)),
    "instances:instance_export": Row(everyone(200)),
    # A person's own columns of the fleet table: anyone who sees the fleet (the form; a
    # POST without columns is refused with 400 and changes nothing).
    "instances:instance_list_columns": Row(everyone(200)),
    "instances:instance_detail": Row(everyone(200), kwargs={"slug": "acme-prod"}),
    "instances:instance_timeline": Row(everyone(200), kwargs={"slug": "acme-prod"}),
    "instances:instance_timeline_export": Row(everyone(200), kwargs={"slug": "acme-prod"}),
    "instances:instance_sync": Row(
        only(302, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:fleet_sync": Row(only(302, "devops", "admin"), method="post"),
    # An empty form: who may upgrade or roll back reaches the view and is told what is missing.
    "instances:instance_upgrade": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:instance_rollback": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    # Provisioning and trials: the list for everyone, acting for devops/admin. Empty forms
    # are refused with the reason (400); verifying an active instance is refused with a
    # message on its page (302); an empty owner form resets to the customer's CE (302).
    "instances:provisioning_list": Row(everyone(200)),
    "instances:provision_new": Row(only(200, "devops", "admin")),
    "instances:provisioning_tick": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:provisioning_untick": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:provisioning_verify": Row(
        only(302, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:trial_end": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:trial_convert": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:instance_owner": Row(
        only(302, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:instance_maintenance_window": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    # Lifecycle: an empty suspend/resume form reaches the view and is refused (400) with the
    # service's sentence; the teardown confirmation opens only with an approval's reference
    # (none here: 404); cancelling without a reason is refused with a message and redirect.
    "instances:instance_suspend": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:instance_resume": Row(
        only(400, "devops", "admin"), method="post", kwargs={"slug": "acme-prod"}
    ),
    "instances:instance_teardown": Row(only(404, "devops", "admin"), kwargs={"slug": "acme-prod"}),
    "instances:teardown_cancel": Row(
        only(302, "devops", "admin"), method="post", kwargs={"pk": "900001"}
    ),
    "instances:deletion_record": Row(everyone(200), kwargs={"pk": "900001"}),
    "instances:operation_list": Row(everyone(200)),
    "instances:operation_detail": Row(everyone(200), kwargs={"pk": "900001"}),
    # Health: the page for everyone, windows for devops/admin, marking downtime Admin-only.
    "health:instance_health": Row(everyone(200), kwargs={"slug": "acme-prod"}),
    "health:window_add": Row(only(200, "devops", "admin"), kwargs={"slug": "acme-prod"}),
    # No window #900001: who may delete reaches the view (404), the others are refused.
    "health:window_delete": Row(
        only(404, "devops", "admin"), method="post", kwargs={"slug": "acme-prod", "pk": "900001"}
    ),
    "health:mark_maintenance": Row(only(200, "admin"), kwargs={"slug": "acme-prod"}),
    # The monthly uptime report: everyone with read access, fleet or one instance, page or CSV.
    "health:uptime_report": Row(everyone(200)),
    "health:uptime_report_export": Row(everyone(200)),
    "health:instance_uptime_report": Row(everyone(200), kwargs={"slug": "acme-prod"}),
    "health:instance_uptime_report_export": Row(everyone(200), kwargs={"slug": "acme-prod"}),
    # Incidents across the fleet: the list and an incident's page (#900001, open) for
    # everyone; acknowledging and notes for devops/admin (an empty note is a 400).
    "health:incident_list": Row(everyone(200)),
    "health:incident_detail": Row(everyone(200), kwargs={"pk": "900001"}),
    "health:incident_acknowledge": Row(
        only(302, "devops", "admin"), method="post", kwargs={"pk": "900001"}
    ),
    "health:incident_note_add": Row(
        only(400, "devops", "admin"), method="post", kwargs={"pk": "900001"}
    ),
    # Rollouts: pages for everyone, planning and actions for devops/admin, the freeze Admin
    # only. Rollout #900001 is the matrix objects' planned rollout; empty forms are refused
    # with a message and a redirect back.
    "rollouts:rollout_list": Row(everyone(200)),
    "rollouts:rollout_new": Row(only(200, "devops", "admin")),
    "rollouts:rollout_detail": Row(everyone(200), kwargs={"pk": "900001"}),
    "rollouts:rollout_report": Row(everyone(200), kwargs={"pk": "900001"}),
    "rollouts:rollout_report_export": Row(everyone(200), kwargs={"pk": "900001"}),
    "rollouts:rollout_action": Row(
        only(302, "devops", "admin"), method="post", kwargs={"pk": "900001"}
    ),
    "rollouts:rollout_plan_edit": Row(
        only(302, "devops", "admin"), method="post", kwargs={"pk": "900001"}
    ),
    "rollouts:rollout_target_action": Row(
        only(404, "devops", "admin"), method="post", kwargs={"pk": "900001", "target_pk": "900001"}
    ),
    "rollouts:fleet_freeze": Row(only(302, "admin"), method="post"),
    # Approvals: pages for any role (who may review is the policy's business, refused in the
    # service); request #900001 is the matrix objects' pending request, filed by devops. A
    # review without a decision is a 400 for everyone who reaches the view.
    "approvals:inbox": Row(everyone(200)),
    "approvals:request_detail": Row(everyone(200), kwargs={"pk": "900001"}),
    "approvals:review": Row(everyone(400), method="post", kwargs={"pk": "900001"}),
    # Only the requester may withdraw; the others are told so on the page they return to.
    "approvals:withdraw": Row(everyone(302), method="post", kwargs={"pk": "900002"}),
    # Slack's interactivity endpoint: public (Slack's signature is the check), and absent
    # (404) while SLACK_APPROVALS_ENABLED is off, the default.
    "approvals:slack_interactivity": Row(everyone(404, anonymous=404, stranger=404), method="post"),
    # Access: asking is for devops and admins; grant #900001 is pending, held by devops.
    # "I'm done" answers everyone with the page (and the service's refusal); revoking
    # without a reason is a 400 for managers and admins, refused to the others.
    "access:mine": Row(everyone(200)),
    "access:grant_list": Row(everyone(200)),
    # The access-review evidence: who reads the audit trail exports it.
    "access:grant_export": Row(only(200, "devops", "admin"), kwargs={"fmt": "csv"}),
    "access:request": Row(only(200, "devops", "admin"), kwargs={"slug": "acme-prod"}),
    "access:grant": Row(everyone(200), kwargs={"pk": "900001"}),
    "access:done": Row(everyone(302), method="post", kwargs={"pk": "900001"}),
    "access:extend": Row(everyone(302), method="post", kwargs={"pk": "900001"}),
    "access:revoke": Row(only(400, "manager", "admin"), method="post", kwargs={"pk": "900001"}),
    # Requests: filing and one's own requests for every role; request #900001 is filed by ce
    # (DevOps, managers and Admins see every request). Handling is DevOps/Admin; an empty
    # action is a 400 for whoever reaches the view. The SLA report is for everyone.
    "mi_requests:list": Row(everyone(200)),
    "mi_requests:new": Row(everyone(200)),
    "mi_requests:detail": Row(everyone(200), kwargs={"pk": "900001"}),
    "mi_requests:handle": Row(only(400, "devops", "admin"), method="post", kwargs={"pk": "900001"}),
    "mi_requests:respond": Row(everyone(400), method="post", kwargs={"pk": "900001"}),
    "mi_requests:sla_report": Row(everyone(200)),
    "mi_requests:sla_report_export": Row(everyone(200)),
}


@pytest.fixture
def matrix_objects(db):
    """The objects the rows' kwargs name: instance acme-prod, operation #900001, approval
    requests #900001 and #900002 (pending, filed by devops)."""
    instance = make_instance("acme-prod")
    make_operation(instance, state=OperationState.SUCCEEDED, pk=900001)
    make_approval_request(make_persona("devops"), pk=900001)
    make_approval_request(make_persona("devops"), pk=900002)
    release = Release.objects.create(version="6.10.0", released_at="2026-03-05T12:00:00Z")
    Rollout.objects.create(pk=900001, release=release)
    make_access_grant(make_persona("devops"), instance, pk=900001)
    make_deletion_record(instance, pk=900001)
    make_request(make_persona("ce"), instance, pk=900001)
    Incident.objects.create(
        pk=900001,
        instance=instance,
        cause="down",
        dedup_key="mi-admin/acme-prod/down",
        summary="acme-prod is down",
        opened_at="2026-03-05T12:00:00Z",
    )


def _our_patterns() -> list[tuple[str, str]]:
    # API views have their own matrix, per method and with tokens: tests/api/test_api_matrix.py
    return [
        (route, name)
        for route, name, pattern in iter_patterns()
        if not is_delegated(pattern.callback) and rule_of(pattern.callback) is not Rule.API
    ]


def test_every_url_has_an_expectation():
    # given every URL pattern of ours (third-party login and admin views excepted)
    patterns = _our_patterns()
    # then each has a name and a row in the matrix
    unnamed = [route for route, name in patterns if not name]
    missing = [name for _route, name in patterns if name and name not in MATRIX]
    assert unnamed == []
    assert missing == [], f"add rows to MATRIX for: {missing}"


@pytest.mark.usefixtures("matrix_objects")
@pytest.mark.parametrize("persona_name", PERSONAS)
@pytest.mark.parametrize("url_name", sorted(MATRIX))
def test_url_by_persona(client_for, persona_name, url_name):
    # given a persona and a URL
    row = MATRIX[url_name]
    client = client_for(persona_name)
    url = reverse(url_name, kwargs=row.kwargs) + row.query
    # when they open it
    response = getattr(client, row.method)(url)
    # then the outcome is the one the table says
    assert response.status_code == row.expect[persona_name], (
        f"{persona_name} {row.method.upper()} {url}"
    )
    if response.status_code == LOGIN and persona_name == "anonymous" and row.method == "get":
        assert response["Location"].startswith(row.anonymous_redirect)


@pytest.mark.parametrize(
    ("persona_name", "expected"),
    [("anonymous", 302), ("stranger", 403), ("ce", 403), ("devops", 403), ("admin", 200)],
)
def test_django_admin_only_for_admins(client_for, persona_name, expected):
    # given a persona; when they open Django admin; then only Admins get in (the anonymous
    # go to our login, others get our 403: tests/ui/test_shell.py)
    response = client_for(persona_name).get("/admin/")
    assert response.status_code == expected


def test_stranger_403_says_why_and_whom_to_ask(client_for):
    # given a signed-in person in no MI Admin group
    client = client_for("stranger")
    # when they open the dashboard
    response = client.get("/")
    # then the page explains the missing groups and names whom to ask
    body = response.content.decode()
    assert response.status_code == 403
    assert "not in any MI Admin group" in body
    assert "mi-devops" in body
    assert "mi-admins" in body
    assert "ask" in body


def test_missing_permission_names_the_role_to_ask_for(client_for):
    # given CE, who may not read the audit trail; when they try
    response = client_for("ce").get(reverse("audit:event_list"))
    # then the 403 names the permission and the roles that carry it
    body = response.content.decode()
    assert response.status_code == 403
    assert "Browse and export the audit trail" in body
    assert "DevOps or Admin" in body


def test_view_without_rule_is_refused_and_reported(rf, devops):
    # given a view nobody gave a rule to
    from django.http import HttpResponse

    from mi_admin.accounts.middleware import AuthorizationMiddleware

    def unruled(request):
        return HttpResponse("secret")

    request = rf.get("/x")
    request.user = devops
    # when the middleware sees it
    response = AuthorizationMiddleware(lambda r: HttpResponse())
    result = response.process_view(request, unruled, (), {})
    # then it is refused even for a role holder
    assert result is not None
    assert result.status_code == 403


def test_system_check_lists_unruled_views(settings):
    # given a URLconf with an unruled view
    from django.core.checks import run_checks

    settings.ROOT_URLCONF = "tests.ui.unruled_urls"
    # when Django's checks run
    errors = [e for e in run_checks(tags=["security"]) if e.id == "mi_admin.E002"]
    # then the unruled view is named
    assert len(errors) == 1
    assert "unruled" in errors[0].msg

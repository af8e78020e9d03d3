"""``mi requests`` against a live server (``/api/v1/requests/...``), signed in at the IdP."""

from __future__ import annotations

import json

import pytest

from idp import subject_for
from mi_admin.accounts.models import User
from mi_cli.errors import ExitCode
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance
from tests.mi_requests.factories import make_request

pytestmark = pytest.mark.django_db(transaction=True)


def test_ce_lists_their_requests_and_reads_one(live_api, login_as, mi):
    # given ce signed in, a request they filed and one by devops (ce does not see it)
    login_as("ce")
    assert json.loads(mi("requests", "--json").out) == []  # the API call signs ce in
    ce = User.objects.get(oidc_sub=subject_for("ce"))
    instance = make_instance("acme-prod")
    own = make_request(ce, instance)
    theirs = make_request(make_persona("devops"), instance)
    # when ce lists requests
    listed = mi("requests", "--json")
    # then only their own is listed
    assert listed.code == ExitCode.OK, listed.err
    assert [row["id"] for row in json.loads(listed.out)] == [own.pk]
    # and its page shows its clocks and timeline
    shown = mi("requests", "show", str(own.pk))
    assert shown.code == ExitCode.OK, shown.err
    assert "Suspension: acme-prod" in shown.out
    assert "Response (24 h)" in shown.out
    # and devops's request is not found for ce
    hidden = mi("requests", "show", str(theirs.pk))
    assert hidden.code == ExitCode.NOT_FOUND

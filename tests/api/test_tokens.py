"""Bearer tokens refused for every way they can be wrong, and nothing changes; a good token
acts, audited with its subject and client."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse

from instances.models import Operation
from mi_admin.api.tokens import jwks_cache
from mi_admin.audit.models import AuditEvent
from tests.api.conftest import MACHINE
from tests.fixtures.personas import make_persona
from tests.instances.factories import make_instance

PROBLEM = "application/problem+json"


def _other_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def instance(db):
    make_persona("devops")  # already in the right groups: a good token changes nothing
    return make_instance("acme-prod")


def _sync(token: str):
    url = reverse("instances_api:instance_sync", kwargs={"slug": "acme-prod"})
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(url, content_type="application/json")


def _alg_none(token_for) -> str:
    good = token_for("devops")
    _header, payload, _sig = good.split(".")
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."


def _bad_tokens(token_for, settings):
    now = int(time.time())
    return {
        "wrong signature": token_for("devops", key=_other_key_pem()),
        "wrong issuer": token_for("devops", iss="https://evil.example.com/oauth2/default"),
        "wrong audience": token_for("devops", aud="api://someone-else"),
        "expired": token_for("devops", iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid": token_for("devops", nbf=now + 3600, exp=now + 7200),
        "unknown kid": token_for("devops", headers={"kid": "not-a-key-of-the-issuer"}),
        "alg none": _alg_none(token_for),
        "no exp": token_for("devops", exp=None),
        "not a jwt": "opaque-token-from-the-org-server",
    }


REFUSALS = [
    "wrong signature",
    "wrong issuer",
    "wrong audience",
    "expired",
    "not yet valid",
    "unknown kid",
    "alg none",
    "no exp",
    "not a jwt",
]


@pytest.mark.parametrize("problem", REFUSALS)
def test_bad_token_is_refused_and_nothing_changes(token_for, settings, instance, problem):
    # given a token wrong in one way
    token = _bad_tokens(token_for, settings)[problem]
    audit_before, operations_before = AuditEvent.objects.count(), Operation.objects.count()
    # when it asks for a sync
    response = _sync(token)
    # then it is refused as unauthenticated, saying why, and nothing was recorded
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == PROBLEM
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["detail"].startswith("Invalid token")
    assert AuditEvent.objects.count() == audit_before
    assert Operation.objects.count() == operations_before


@pytest.mark.parametrize(
    ("scopes", "method"), [(("mi.read",), "post"), (("mi.write",), "get"), ((), "get")]
)
def test_missing_scope_is_refused_and_nothing_changes(token_for, instance, scopes, method):
    # given a valid DevOps token without the scope the call needs
    token = token_for("devops", scopes=scopes)
    audit_before, operations_before = AuditEvent.objects.count(), Operation.objects.count()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    # when it reads the fleet or asks for a sync
    if method == "post":
        response = _sync(token)
        needed = "mi.write"
    else:
        response = client.get(reverse("instances_api:instance_list"))
        needed = "mi.read"
    # then: 403 naming the scope, nothing recorded
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert needed in response.json()["detail"]
    assert AuditEvent.objects.count() == audit_before
    assert Operation.objects.count() == operations_before


def test_good_token_acts_and_the_audit_names_subject_and_client(token_for, instance):
    # given a good DevOps token
    # when it asks for a sync
    response = _sync(token_for("devops"))
    # then the operation exists, asked by devops, and its audit event names the token
    assert response.status_code == 202, response.content
    operation = Operation.objects.get(pk=response.json()["id"])
    assert operation.actor is not None
    assert operation.actor.username == "devops"
    assert response["Location"] == f"/api/v1/operations/{operation.pk}/"
    event = AuditEvent.objects.filter(object_id=str(operation.pk)).order_by("-id").first()
    assert event is not None
    assert event.actor_label == "devops [api sub=devops@example.com cid=mi-cli]"


def test_machine_client_acts_as_its_role(token_for, db):
    # given the CI client's client-credentials token (sub = cid, no groups), mapped to DevOps
    make_instance("acme-prod")
    # when it asks for a sync
    response = _sync(token_for(MACHINE))
    # then it acts as its service user
    assert response.status_code == 202, response.content
    actor = Operation.objects.get().actor
    assert actor is not None
    assert actor.username == "client-mi-ci"


def test_unmapped_machine_client_is_refused(token_for, settings, db):
    # given a client-credentials token of a client no setting maps to a role
    settings.API_MACHINE_CLIENTS = {}
    # when it reads the fleet
    token = token_for(MACHINE)
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(
        reverse("instances_api:instance_list")
    )
    # then it is refused, naming the setting
    assert response.status_code == 403
    assert "API_MACHINE_CLIENTS" in response.json()["detail"]


def test_a_person_first_seen_by_token_gets_the_login_as_email(token_for, db):
    # given devops unknown to MI Admin, whose token (as Okta's) has no email claim
    make_instance("acme-prod")
    # when they first call the API
    response = _sync(token_for("devops"))
    # then their user is created with the token's login (sub) as email, for IAM grants
    assert response.status_code == 202, response.content
    actor = Operation.objects.get().actor
    assert actor is not None
    assert actor.email == "devops@example.com"


def test_roles_follow_the_token_groups(token_for, db):
    # given devops, whose token now says only mi-ce (Okta moved them)
    make_instance("acme-prod")
    make_persona("devops")
    token = token_for("devops", groups=["mi-ce"])
    # when they ask for a sync
    response = _sync(token)
    # then they act as CE (refused), as a browser login would have made them
    assert response.status_code == 403
    assert "DevOps or Admin" in response.json()["detail"]


def test_unknown_kid_reads_the_jwks_again_at_most_once_per_interval(token_for, settings, db):
    # given a JWKS already read, and a minimum refresh interval
    settings.API_JWKS_MIN_REFRESH_SECONDS = 3600
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for('devops')}")
    assert client.get(reverse("instances_api:release_list")).status_code == 200
    fetches = jwks_cache.fetches
    # when many tokens with unknown kids arrive
    for n in range(5):
        _sync(token_for("devops", headers={"kid": f"made-up-{n}"}))
    # then the JWKS was not read again within the interval
    assert jwks_cache.fetches == fetches


def test_unknown_kid_reads_the_jwks_again_after_the_interval(token_for, settings, db):
    # given a JWKS read long enough ago
    settings.API_JWKS_MIN_REFRESH_SECONDS = 0
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for('devops')}")
    assert client.get(reverse("instances_api:release_list")).status_code == 200
    fetches = jwks_cache.fetches
    # when a token names a kid it does not know
    _sync(token_for("devops", headers={"kid": "rotated-in"}))
    # then the JWKS is read again (a key Okta just rotated in would now be found)
    assert jwks_cache.fetches == fetches + 1

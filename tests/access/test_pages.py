"""The access pages: asking from the instance page, "My access", the grant page with "I'm
done" and Revoke. Each refusal is shown; each page keeps its query count at any size."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from access.choices import GrantState
from access.models import AccessGrant
from tests.access.conftest import level, make_instance
from tests.access.factories import make_access_grant

pytestmark = pytest.mark.django_db


def test_devops_requests_access_from_the_instance_page(client_for):
    # given an instance, and devops on its page
    instance = make_instance()
    client = client_for("devops")
    page = client.get(reverse("instances:instance_detail", args=[instance.slug])).content.decode()
    assert 'data-testid="request-access"' in page
    # when they fill in the form
    response = client.post(
        reverse("access:request", args=[instance.slug]),
        {"level": level().pk, "minutes": "30", "justification": "disk full"},
    )
    # then the grant is filed and they land on its page, waiting for approval
    grant = AccessGrant.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("access:grant", args=[grant.pk])
    assert grant.duration == timedelta(minutes=30)
    assert grant.state == GrantState.PENDING
    mine = client.get(reverse("access:mine")).content.decode()
    assert "Waiting for approval" in mine


def test_the_form_shows_the_services_refusal(client_for):
    # given an instance; when devops asks for more than the level's maximum
    instance = make_instance()
    response = client_for("devops").post(
        reverse("access:request", args=[instance.slug]),
        {"level": level().pk, "minutes": "61", "justification": "x"},
    )
    # then the page says why, and nothing is filed
    assert response.status_code == 400
    assert "lasts at most 1 h; you asked for 1 h 1 min" in response.content.decode()
    assert not AccessGrant.objects.exists()


def test_an_opted_out_instance_shows_it_and_offers_no_request(client_for):
    instance = make_instance(opted_out=True)
    page = client_for("devops").get(reverse("instances:instance_detail", args=[instance.slug]))
    body = page.content.decode()
    assert "Customer opted out of management access" in body
    assert 'data-testid="request-access"' not in body


def test_a_manager_revokes_from_the_grant_page_with_a_reason(client_for, persona):
    # given a pending grant held by devops
    grant = make_access_grant(persona("devops"), make_instance())
    client = client_for("manager")
    # when the manager revokes without a reason, then with one
    url = reverse("access:revoke", args=[grant.pk])
    refused = client.post(url, {"reason": ""})
    done = client.post(url, {"reason": "wrong instance"})
    # then the first is refused on the page, the second revokes it
    assert refused.status_code == 400
    assert done.status_code == 302
    grant.refresh_from_db()
    assert grant.state == GrantState.REVOKED
    assert grant.end_reason == "wrong instance"


def test_the_revoke_form_is_shown_to_managers_only(client_for, persona):
    grant = make_access_grant(persona("devops"), make_instance())
    url = reverse("access:grant", args=[grant.pk])
    assert 'data-testid="revoke-form"' in client_for("manager").get(url).content.decode()
    assert 'data-testid="revoke-form"' not in client_for("devops").get(url).content.decode()


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(("page", "baseline"), [("mine", 5), ("grant", 7)])
def test_the_pages_cost_the_same_at_any_size(client_for, persona, page, baseline):
    # given devops holding one grant, then sixty on several instances
    devops = persona("devops")
    client = client_for("devops")
    first = make_access_grant(devops, make_instance())
    url = reverse("access:mine") if page == "mine" else reverse("access:grant", args=[first.pk])
    client.get(url)  # warm per-process caches
    small = _queries(client, url)
    for n in range(60):
        make_access_grant(devops, make_instance(f"more-{n}"))
    large = _queries(client, url)
    # then both cost the baseline (session, user, groups: 3 of them; the grant page adds
    # the requester's recent grants, who else has access now, and its timeline)
    assert (small, large) == (baseline, baseline)


def test_the_grant_page_shows_what_a_reviewer_weighs(client_for, persona):
    # given devops asking for access, after an earlier grant of theirs, while admin holds
    # active access on the same instance
    devops, instance = persona("devops"), make_instance()
    earlier = make_access_grant(devops, make_instance("elsewhere"))
    other = make_access_grant(persona("admin"), instance)
    AccessGrant.objects.filter(pk=other.pk).update(
        state=GrantState.ACTIVE, expires_at=timezone.now() + timedelta(minutes=20)
    )
    grant = make_access_grant(devops, instance)
    # when the manager opens the request's grant page
    page = client_for("manager").get(reverse("access:grant", args=[grant.pk])).content.decode()
    # then it lists the requester's recent grants and who else has access now
    assert f"#{earlier.pk}</a> SSH (OS Login) on elsewhere" in page
    assert 'data-testid="other-active">Admin Persona' in page

"""Where `/` (and so signing in) takes each role: a CE with customers lands on the fleet
list filtered to them; everyone else, and a CE who owns nothing yet, on the dashboard."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from mi_admin.accounts.roles import Role
from tests.instances.factories import make_customer, make_instance
from tests.instances.pages import row_slugs

pytestmark = pytest.mark.django_db

MY_CUSTOMERS = "/instances/?mine=true"


@pytest.fixture
def ce_customers(persona):
    ce = persona("ce")
    make_instance("acme-prod", customer=make_customer("acme", owner_ce=ce))
    make_instance("globex-prod")
    return ce


def test_ce_lands_on_the_fleet_filtered_to_their_customers(client_for, ce_customers):
    client = client_for("ce")
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, MY_CUSTOMERS)
    landed = client.get(response["Location"])
    assert row_slugs(landed) == ["acme-prod"]


@pytest.mark.parametrize("name", ["devops", "manager", "admin"])
def test_other_roles_land_on_the_dashboard_as_before(client_for, ce_customers, persona, name):
    # even when they own customers themselves
    make_instance("initech-prod", customer=make_customer("initech", owner_ce=persona(name)))
    response = client_for(name).get("/")
    assert response.status_code == 200
    assert 'data-testid="my-customers"' in response.content.decode()  # the dashboard


def test_a_ce_who_is_also_devops_keeps_the_dashboard(client_for, ce_customers):
    ce_customers.groups.add(Group.objects.get_or_create(name=Role.DEVOPS.value)[0])
    assert client_for("ce").get("/").status_code == 200


def test_a_ce_without_customers_stays_on_the_dashboard(client_for, persona):
    persona("ce")
    make_instance("globex-prod")
    assert client_for("ce").get("/").status_code == 200


def test_the_ce_can_still_open_the_dashboard_from_the_navigation(client_for, ce_customers):
    response = client_for("ce").get("/dashboard/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="my-customers-link"' in body
    assert '<a href="/dashboard/" aria-current="page">Dashboard</a>' in body

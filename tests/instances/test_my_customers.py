"""'My customers': the fleet narrowed to what the signed-in CE owns, and the demo's owners."""

from __future__ import annotations

import pytest
from django.urls import reverse

from idp import subject_for
from instances.demo import DEMO_CE, demo_fleet_create
from instances.models import Customer, Instance
from tests.instances.factories import make_customer, make_instance
from tests.instances.pages import FLEET_URL, row_slugs

pytestmark = pytest.mark.django_db


@pytest.fixture
def owned_fleet(persona):
    ce, devops = persona("ce"), persona("devops")
    mine = make_customer("acme", owner_ce=ce)
    make_instance("acme-prod", customer=mine)
    make_instance("acme-trial", customer=mine)
    make_instance("globex-prod", customer=make_customer("globex", owner_ce=devops))
    # a trial CE decides on though the customer is someone else's
    make_instance("initech-trial", customer=make_customer("initech"), owner=ce)
    make_instance("hooli-prod")
    return ce


def test_my_customers_lists_exactly_the_ces_instances(client_for, owned_fleet):
    response = client_for("ce").get(FLEET_URL, {"mine": "true"})
    assert response.status_code == 200
    assert row_slugs(response) == ["acme-prod", "acme-trial", "initech-trial"]


def test_without_the_filter_everyone_is_listed(client_for, owned_fleet):
    response = client_for("ce").get(FLEET_URL)
    assert len(row_slugs(response)) == 5


def test_my_customers_is_per_person(client_for, owned_fleet):
    response = client_for("devops").get(FLEET_URL, {"mine": "true"})
    assert row_slugs(response) == ["globex-prod"]


def test_export_honours_my_customers(client_for, owned_fleet):
    response = client_for("ce").get(reverse("instances:instance_export"), {"mine": "true"})
    body = b"".join(response.streaming_content).decode()
    assert "acme-prod" in body
    assert "globex-prod" not in body


def test_instance_page_names_the_owning_ce(client_for, owned_fleet):
    owned_fleet.display_name = "Casey Engineer"
    owned_fleet.save()
    body = client_for("devops").get(reverse("instances:instance_detail", args=["acme-prod"]))
    assert "Owning CE" in body.content.decode()
    assert str(owned_fleet) in body.content.decode()


def test_the_demo_gives_a_third_of_its_customers_to_the_ce_persona():
    demo_fleet_create(base_url="http://fleetsim.invalid")
    owned = Customer.objects.filter(owner_ce__oidc_sub=subject_for(DEMO_CE))
    assert 0 < owned.count() < Customer.objects.count()
    assert Instance.objects.filter(customer__in=owned).exists()

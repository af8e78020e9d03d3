"""The shell's rough edges (issue 12, item 7): the navigation, the way out of a 403 for a
person without a role, Django admin behind our login and 403, the favicon."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.fixtures.personas import PERSONAS


def _nav_labels(client: Client) -> list[str]:
    response = client.get("/")
    return [link.label for link in response.context["nav"]]


@pytest.mark.parametrize("persona_name", ["ce", "devops", "manager", "admin"])
def test_operations_is_in_the_navigation_of_everyone_who_may_see_the_fleet(
    client_for, persona_name
):
    # given a persona with a role; when they open the dashboard
    labels = _nav_labels(client_for(persona_name))
    # then Operations is there, right after Fleet
    assert labels[labels.index("Fleet") + 1] == "Operations"


def test_operations_link_is_marked_current_on_its_page(client_for):
    # given devops on the operations list
    response = client_for("devops").get(reverse("instances:operation_list"))
    # then the navigation marks Operations (and nothing else) as the current page
    current = [link.label for link in response.context["nav"] if link.active]
    assert current == ["Operations"]
    assert f'<a href="{reverse("instances:operation_list")}" aria-current="page">' in (
        response.content.decode()
    )


def test_a_person_without_a_role_is_offered_sign_out_not_the_same_page(client_for):
    # given a signed-in person in no MI Admin group
    client = client_for("stranger")
    # when they open the dashboard
    response = client.get("/")
    body = response.content.decode()
    # then the 403 offers a sign-out form and no link back to the dashboard (another 403)
    assert response.status_code == 403
    assert 'data-testid="forbidden-sign-out"' in body
    assert f'action="{reverse("accounts:logout")}"' in body
    assert "Back to the dashboard" not in body
    assert 'href="/"' not in body
    # and signing out from it works: they are then sent to the login page
    assert client.post(reverse("accounts:logout")).status_code == 302
    after = client.get("/")
    assert after.status_code == 302
    assert after["Location"].startswith(settings.LOGIN_URL)


def test_a_person_with_a_role_still_gets_back_to_the_dashboard(client_for):
    # given CE, refused the audit trail; then the 403 leads back to the dashboard they may open
    body = client_for("ce").get(reverse("audit:event_list")).content.decode()
    assert "Back to the dashboard" in body
    assert 'data-testid="forbidden-sign-out"' not in body


@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/admin/instances/instance/"])
def test_django_admin_sends_the_anonymous_to_our_login(client, db, path):
    # given nobody signed in; when they open Django admin
    response = client.get(path, follow=True)
    # then they end on MI Admin's login (Okta), which brings them back to the admin after
    final, status = response.redirect_chain[-1]
    assert status == 302
    assert final.startswith(f"{settings.LOGIN_URL}?next=")
    assert unquote(final.split("next=", 1)[1]).startswith("/admin/")
    assert response.status_code == 200
    assert 'type="password"' not in response.content.decode()


@pytest.mark.parametrize("persona_name", ["stranger", "ce", "devops", "manager"])
@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/admin/instances/instance/"])
def test_django_admin_refuses_non_admins_with_our_403(client_for, persona_name, path):
    # given a signed-in person without admin rights; when they open Django admin
    response = client_for(persona_name).get(path)
    body = response.content.decode()
    # then they get MI Admin's 403, not Django admin's password form
    assert response.status_code == 403
    assert "Access denied" in body
    assert 'type="password"' not in body
    if persona_name != "stranger":
        assert "Manage releases, policies and integrations" in body
        assert "Admin" in body


def test_django_admin_still_opens_for_admins(client_for):
    # given an Admin; when they open Django admin, then it is there
    client = client_for("admin")
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/instances/instance/").status_code == 200
    # and the admin's own login page sends them on to the index
    assert client.get("/admin/login/").status_code == 302


@pytest.mark.parametrize("persona_name", PERSONAS)
def test_every_page_links_the_favicon(client_for, persona_name):
    # given any persona on the login page (the one page everyone may see)
    body = client_for(persona_name).get(reverse("accounts:login")).content.decode()
    # then the page names the SVG favicon, which exists among the static files
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in body
    icon = Path(settings.BASE_DIR) / "static" / "favicon.svg"
    assert icon.read_text().startswith("<svg")

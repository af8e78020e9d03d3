"""Logout ends the Okta session too; the silent re-check follows the Okta session."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from importlib import import_module

import requests
from django.conf import settings
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from mi_admin.accounts.models import User
from mi_admin.audit.models import AuditEvent
from tests.fixtures.idp import is_idp_login_page

Login = Callable[..., requests.Response]
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def expire_id_token(session: requests.Session) -> None:
    """What 15 minutes would do: the id_token's renewal time has passed."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(
        session.cookies.get(settings.SESSION_COOKIE_NAME)
    )
    store["oidc_id_token_expiration"] = time.time() - 1
    store.save()


def test_logout_ends_the_okta_session_too(
    live_server: LiveServer, okta_login: Login, oidc_settings: IdpProcess
) -> None:
    # given: devops is signed in (MI Admin and the IdP)
    browser = requests.Session()
    dashboard = okta_login(browser, live_server.url, "devops")
    # when
    response = browser.post(
        f"{live_server.url}/logout/",
        data={"csrfmiddlewaretoken": csrf_token(dashboard.text)},
        timeout=30,
    )
    # then: back on the login page, through the IdP's end_session endpoint
    assert response.url == f"{live_server.url}/login/?logged_out=1"
    assert any(
        r.url.startswith(oidc_settings.rp_env()["OIDC_OP_LOGOUT_ENDPOINT"])
        for r in response.history
    )
    assert "signed out" in response.text
    assert browser.get(f"{live_server.url}/", timeout=10).url.startswith(
        f"{live_server.url}/login/"
    )
    # and the Okta button asks for a password again instead of signing straight back in
    again = browser.get(f"{live_server.url}/oidc/authenticate/", timeout=30)
    assert is_idp_login_page(again, oidc_settings)
    user = User.objects.get(username="devops@example.com")
    assert AuditEvent.objects.filter(action="auth.logout", object_id=str(user.pk)).exists()


def test_logout_needs_post(live_server: LiveServer, okta_login: Login) -> None:
    # given
    browser = requests.Session()
    okta_login(browser, live_server.url, "devops")
    # when
    response = browser.get(f"{live_server.url}/logout/", timeout=10)
    # then
    assert response.status_code == 405
    assert browser.get(f"{live_server.url}/", timeout=10).url == f"{live_server.url}/"


def test_a_live_okta_session_is_renewed_silently(
    live_server: LiveServer, okta_login: Login
) -> None:
    # given: signed in, and the id_token's time is up
    browser = requests.Session()
    okta_login(browser, live_server.url, "devops")
    expire_id_token(browser)
    # when
    response = browser.get(f"{live_server.url}/", timeout=30)
    # then: a round trip through the IdP (prompt=none), no password, same page
    assert response.url == f"{live_server.url}/"
    assert any("prompt=none" in r.headers.get("Location", "") for r in response.history)
    assert "Dana Devops" in response.text


def test_an_ended_okta_session_ends_the_mi_admin_session(
    live_server: LiveServer, okta_login: Login, oidc_settings: IdpProcess
) -> None:
    # given: signed in, then signed out at the IdP alone (as when Okta ends a session)
    browser = requests.Session()
    okta_login(browser, live_server.url, "devops")
    idp_home = browser.get(f"{oidc_settings.base_url}/", timeout=10)
    browser.post(
        f"{oidc_settings.base_url}/logout/",
        data={"csrfmiddlewaretoken": csrf_token(idp_home.text)},
        timeout=10,
    )
    expire_id_token(browser)
    # when
    response = browser.get(f"{live_server.url}/", timeout=30)
    # then
    assert response.url == f"{live_server.url}/login/"
    assert "Okta session has ended" in response.text
    assert browser.get(f"{live_server.url}/", timeout=10).url.startswith(
        f"{live_server.url}/login/"
    )


def _htmx_request_after_expiry(
    live_server: LiveServer, okta_login: Login, current_url: str
) -> tuple[requests.Session, requests.Response]:
    """Signed in as devops, the id_token's time up, htmx asks for the audit list's partial
    from ``current_url``; the browser and the answer."""
    browser = requests.Session()
    okta_login(browser, live_server.url, "devops")
    expire_id_token(browser)
    response = browser.get(
        f"{live_server.url}/audit/",
        headers={"HX-Request": "true", "HX-Current-URL": current_url},
        allow_redirects=False,
        timeout=10,
    )
    return browser, response


def test_an_htmx_request_after_expiry_navigates_the_whole_page(
    live_server: LiveServer, okta_login: Login
) -> None:
    # given: signed in, the id_token's time is up
    # when: htmx asks for a partial
    browser, response = _htmx_request_after_expiry(
        live_server, okta_login, f"{live_server.url}/audit/?page=2"
    )
    # then: htmx is told to load the provider's URL as a page, and to come back to this page
    assert response.status_code == 200
    assert "prompt=none" in response.headers["HX-Redirect"]
    back = browser.get(response.headers["HX-Redirect"], timeout=30)
    assert back.url == f"{live_server.url}/audit/?page=2"


def test_an_htmx_request_from_a_foreign_current_url_stays_on_this_site(
    live_server: LiveServer, okta_login: Login
) -> None:
    # given: signed in, the id_token's time is up
    # when: htmx asks for a partial with HX-Current-URL pointing elsewhere
    browser, response = _htmx_request_after_expiry(
        live_server, okta_login, f"{live_server.url}//evil.example/x"
    )
    back = browser.get(response.headers["HX-Redirect"], timeout=30)
    # then: back on the requested MI Admin page, never on the other host
    assert back.url == f"{live_server.url}/audit/"
    assert all("evil.example" not in r.headers.get("Location", "") for r in back.history)

"""OIDC_ISSUER works with or without a trailing slash (against the real local IdP)."""

from __future__ import annotations

import pytest
import requests
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from idp.process import IdpProcess
from mi_admin.accounts.okta import okta_endpoints
from mi_admin.audit.models import AuditEvent
from tests.accounts.test_session_lifecycle import Login


def test_endpoints_are_derived_the_same_with_a_trailing_slash() -> None:
    assert okta_endpoints("https://example.okta.com/") == okta_endpoints("https://example.okta.com")
    assert okta_endpoints("https://example.okta.com/oauth2/default/") == {
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://example.okta.com/oauth2/default/v1/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": "https://example.okta.com/oauth2/default/v1/token",
        "OIDC_OP_USER_ENDPOINT": "https://example.okta.com/oauth2/default/v1/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": "https://example.okta.com/oauth2/default/v1/keys",
        "OIDC_OP_LOGOUT_ENDPOINT": "https://example.okta.com/oauth2/default/v1/logout",
    }


@pytest.mark.parametrize("suffix", ["", "/"])
def test_login_works_whether_the_issuer_ends_in_a_slash(
    live_server: LiveServer,
    okta_login: Login,
    oidc_settings: IdpProcess,
    settings: Settings,
    suffix: str,
) -> None:
    # given: MI Admin configured from the issuer alone, as pasted (maybe with a slash)
    settings.OIDC_ISSUER = oidc_settings.issuer + suffix
    for key, value in okta_endpoints(settings.OIDC_ISSUER).items():
        setattr(settings, key, value)
    # when
    page = okta_login(requests.Session(), live_server.url, "devops")
    # then: signed in, no failed login
    assert page.url == f"{live_server.url}/"
    assert "Dana Devops" in page.text
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()

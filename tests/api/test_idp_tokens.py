"""Real tokens from the local IdP's custom authorization server, as Okta would issue them:
client credentials for a machine client, authorization code + PKCE on a loopback redirect
for a person (the non-interactive login the `mi` command line's tests will use)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import jwt
import pytest
import requests
from django.conf import settings
from django.test import Client
from django.urls import reverse

from idp import CLI_CLIENT_ID, DEFAULT_MACHINE_CLIENT_SECRET, MACHINE_CLIENT_ID
from tests.fixtures.idp import is_idp_login_page, submit_idp_login_no_follow
from tests.instances.factories import make_instance

LOOPBACK = "http://127.0.0.1:53682/callback"


def _metadata(idp) -> dict:
    url = f"{settings.API_TOKEN_ISSUER}/.well-known/oauth-authorization-server"
    return requests.get(url, timeout=10).json()


def client_credentials_token(scope: str = "mi.read mi.write") -> str:
    response = requests.post(
        f"{settings.API_TOKEN_ISSUER}/v1/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(MACHINE_CLIENT_ID, DEFAULT_MACHINE_CLIENT_SECRET),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def pkce_login_token(username: str, scope: str = "openid mi.read mi.write") -> str:
    """Authorization code + PKCE: sign in at the IdP's form, catch the loopback redirect's
    code (no listener needed), exchange it with the verifier."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    state = secrets.token_urlsafe(16)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLI_CLIENT_ID,
            "redirect_uri": LOOPBACK,
            "scope": scope,
            "state": state,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
    )
    session = requests.Session()
    response = session.get(f"{settings.API_TOKEN_ISSUER}/v1/authorize?{query}", timeout=30)
    assert "/login/" in response.url, response.url
    response = submit_idp_login_no_follow(session, response, username)
    while not response.headers.get("Location", "").startswith(LOOPBACK):
        assert response.status_code in (301, 302), response.text[:500]
        response = session.get(
            urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=30
        )
    params = parse_qs(urlsplit(response.headers["Location"]).query)
    assert params["state"] == [state]
    token = requests.post(
        f"{settings.API_TOKEN_ISSUER}/v1/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": LOOPBACK,
            "client_id": CLI_CLIENT_ID,
            "code_verifier": verifier,
        },
        timeout=30,
    )
    assert token.status_code == 200, token.text
    return str(token.json()["access_token"])


def test_custom_server_publishes_okta_shaped_metadata(api_settings):
    # when its metadata is read; then it names its endpoints under its issuer
    meta = _metadata(api_settings)
    assert meta["issuer"] == settings.API_TOKEN_ISSUER
    assert meta["jwks_uri"] == settings.API_TOKEN_JWKS_URL
    assert "client_credentials" in meta["grant_types_supported"]
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_client_credentials_token_works_as_the_mapped_role(api_settings, db):
    # given the CI client's token from the custom authorization server
    make_instance("acme-prod")
    token = client_credentials_token()
    claims = jwt.decode(token, options={"verify_signature": False})
    # then it is an Okta-shaped client-credentials token
    assert claims["sub"] == claims["cid"] == MACHINE_CLIENT_ID
    assert "groups" not in claims
    assert set(claims["scp"]) == {"mi.read", "mi.write"}
    # when it starts a sync through the API
    url = reverse("instances_api:instance_sync", kwargs={"slug": "acme-prod"})
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(url)
    # then the DevOps role the setting gives it lets it
    assert response.status_code == 202, response.content


@pytest.mark.parametrize(("username", "status"), [("devops", 202), ("ce", 403)])
def test_pkce_login_token_carries_the_person_and_groups(api_settings, db, username, status):
    # given a person's token from the authorization code flow with PKCE
    make_instance("acme-prod")
    token = pkce_login_token(username)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == f"{username}@example.com"
    assert claims["cid"] == CLI_CLIENT_ID
    # when they ask for a sync
    url = reverse("instances_api:instance_sync", kwargs={"slug": "acme-prod"})
    response = Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(url)
    # then their Okta groups decide, as at browser login
    assert response.status_code == status, response.content


def test_org_server_token_is_not_an_api_token(api_settings, db):
    # given the opaque access token of the org server (what the browser login gets)
    response = requests.post(
        f"{settings.API_TOKEN_ISSUER}/v1/token".replace("/oauth2/default/", "/oauth2/"),
        data={"grant_type": "client_credentials", "scope": "mi.read"},
        auth=(MACHINE_CLIENT_ID, DEFAULT_MACHINE_CLIENT_SECRET),
        timeout=30,
    )
    token = response.json()["access_token"]
    # when it is used on the API; then it is refused
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get(reverse("instances_api:release_list")).status_code == 401


__all__ = ["client_credentials_token", "is_idp_login_page", "pkce_login_token"]

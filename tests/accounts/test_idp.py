"""The local IdP behaves like Okta's org authorization server where MI Admin depends on it:
PKCE required, groups in the id_token but not in userinfo, RS256 with a published key."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from idp import rp_env, subject_for
from idp.process import IdpProcess
from tests.fixtures.idp import TEST_CLIENT_SECRET, submit_idp_login

# Loopback redirect URIs match on any port (RFC 8252): nothing needs to listen here.
REDIRECT_URI = "http://127.0.0.1:9/oidc/callback/"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize(
    session: requests.Session, idp: IdpProcess, challenge: str | None
) -> requests.Response:
    params = {
        "response_type": "code",
        "client_id": "mi-admin",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile groups",
        "state": "state-1",
        "nonce": "nonce-1",
    }
    if challenge:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    return session.get(
        rp_env(idp.base_url)["OIDC_OP_AUTHORIZATION_ENDPOINT"],
        params=params,
        allow_redirects=False,
        timeout=10,
    )


def signed_in_session(idp: IdpProcess, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{idp.base_url}/login/", timeout=10)
    submit_idp_login(session, page, username)
    return session


def test_authorization_without_pkce_is_refused(idp_server: IdpProcess) -> None:
    # given
    session = signed_in_session(idp_server, "devops")
    # when
    response = authorize(session, idp_server, challenge=None)
    # then
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "code" not in query


def test_groups_are_in_the_id_token_and_not_in_userinfo(idp_server: IdpProcess) -> None:
    # given
    session = signed_in_session(idp_server, "devops")
    verifier, challenge = pkce_pair()
    redirect = authorize(session, idp_server, challenge)
    code = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
    env = rp_env(idp_server.base_url, client_secret=TEST_CLIENT_SECRET)
    # when
    tokens = requests.post(
        env["OIDC_OP_TOKEN_ENDPOINT"],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": "mi-admin",
            "client_secret": TEST_CLIENT_SECRET,
            "code_verifier": verifier,
        },
        timeout=10,
    ).json()
    userinfo = requests.get(
        env["OIDC_OP_USER_ENDPOINT"],
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=10,
    ).json()
    # then
    key = jwt.PyJWKClient(env["OIDC_OP_JWKS_ENDPOINT"]).get_signing_key_from_jwt(tokens["id_token"])
    id_token = jwt.decode(tokens["id_token"], key, algorithms=["RS256"], audience="mi-admin")
    assert id_token["iss"] == idp_server.issuer
    assert id_token["sub"] == subject_for("devops")
    assert id_token["groups"] == ["mi-devops"]
    assert id_token["name"] == "Dana Devops"
    assert userinfo["sub"] == subject_for("devops")
    assert userinfo["email"] == "devops@example.com"
    assert "groups" not in userinfo


@pytest.mark.parametrize("username", ["devops", "stranger"])
def test_a_wrong_password_is_refused(idp_server: IdpProcess, username: str) -> None:
    # given
    session = requests.Session()
    page = session.get(f"{idp_server.base_url}/login/", timeout=10)
    # when
    response = submit_idp_login(session, page, username, password="not-the-password")
    # then
    assert "Wrong username or password" in response.text

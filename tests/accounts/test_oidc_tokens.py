"""id_token checks of the Okta backend, against the real IdP's JWKS over HTTP.

Tokens are signed here with the IdP's own private key (read from its data directory), so a
refusal can only come from the claim or signature under test.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import SuspiciousOperation
from jwcrypto.jwk import JWK

from idp.process import IdpProcess
from mi_admin.accounts.oidc import OktaAuthenticationBackend

NONCE = "nonce-123"


def idp_key(idp: IdpProcess) -> tuple[str, str]:
    """The IdP's private key (PEM) and its `kid`, as its JWKS publishes it."""
    pem = idp.signing_key_path.read_text()
    return pem, JWK.from_pem(pem.encode()).thumbprint()


def other_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def claims_for(idp: IdpProcess, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": idp.issuer,
        "aud": "mi-admin",
        "sub": "00u-test-subject",
        "iat": now,
        "exp": now + 300,
        "nonce": NONCE,
        "groups": ["mi-devops"],
    }
    claims.update(overrides)
    return claims


def sign(claims: dict[str, Any], pem: str, kid: str) -> str:
    return jwt.encode(claims, pem, algorithm="RS256", headers={"kid": kid})


def test_the_idp_publishes_its_key_with_a_kid(oidc_settings: IdpProcess) -> None:
    # given
    _, kid = idp_key(oidc_settings)
    # when
    jwks = requests.get(oidc_settings.rp_env()["OIDC_OP_JWKS_ENDPOINT"], timeout=10).json()
    # then
    assert [key["kid"] for key in jwks["keys"]] == [kid]


def test_a_good_id_token_is_accepted(oidc_settings: IdpProcess) -> None:
    # given
    pem, kid = idp_key(oidc_settings)
    token = sign(claims_for(oidc_settings), pem, kid)
    # when
    payload = OktaAuthenticationBackend().verify_token(token, nonce=NONCE)
    # then
    assert payload["sub"] == "00u-test-subject"
    assert payload["groups"] == ["mi-devops"]


def test_a_token_with_several_audiences_and_our_azp_is_accepted(
    oidc_settings: IdpProcess,
) -> None:
    # given
    pem, kid = idp_key(oidc_settings)
    claims = claims_for(oidc_settings, aud=["mi-admin", "other-app"], azp="mi-admin")
    # when
    payload = OktaAuthenticationBackend().verify_token(sign(claims, pem, kid), nonce=NONCE)
    # then
    assert payload["azp"] == "mi-admin"


@pytest.mark.parametrize(
    ("case", "overrides", "message"),
    [
        ("wrong issuer", {"iss": "https://evil.example.com/o"}, "issuer"),
        ("wrong audience", {"aud": "some-other-app"}, "audience"),
        ("wrong azp", {"aud": ["mi-admin", "x"], "azp": "x"}, "azp"),
        ("several audiences, no azp", {"aud": ["mi-admin", "x"]}, "azp"),
        ("expired", {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
        ("wrong nonce", {"nonce": "replayed"}, "Nonce"),
        ("no subject", {"sub": ""}, "sub"),
    ],
)
def test_a_bad_id_token_is_refused(
    oidc_settings: IdpProcess, case: str, overrides: dict[str, Any], message: str
) -> None:
    # given
    pem, kid = idp_key(oidc_settings)
    token = sign(claims_for(oidc_settings, **overrides), pem, kid)
    # when / then
    with pytest.raises(SuspiciousOperation, match=message):
        OktaAuthenticationBackend().verify_token(token, nonce=NONCE)


def test_a_token_signed_by_another_key_under_the_idps_kid_is_refused(
    oidc_settings: IdpProcess,
) -> None:
    # given: a forger who knows the kid but not the key
    _, kid = idp_key(oidc_settings)
    token = sign(claims_for(oidc_settings), other_key_pem(), kid)
    # when / then
    with pytest.raises(SuspiciousOperation, match="verification failed"):
        OktaAuthenticationBackend().verify_token(token, nonce=NONCE)


def test_a_token_signed_by_an_unknown_key_is_refused(oidc_settings: IdpProcess) -> None:
    # given
    pem = other_key_pem()
    token = sign(claims_for(oidc_settings), pem, JWK.from_pem(pem.encode()).thumbprint())
    # when / then
    with pytest.raises(SuspiciousOperation, match="JWKS"):
        OktaAuthenticationBackend().verify_token(token, nonce=NONCE)


def test_an_unsigned_token_is_refused(oidc_settings: IdpProcess) -> None:
    # given
    token = jwt.encode(claims_for(oidc_settings), "", algorithm="none")
    # when / then
    with pytest.raises(SuspiciousOperation, match="kid"):
        OktaAuthenticationBackend().verify_token(token, nonce=NONCE)

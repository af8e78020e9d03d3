"""Okta's issuer and the endpoints that hang off it. Plain functions: settings import them.

Okta writes its issuer without a trailing slash (``https://example.okta.com``,
``https://example.okta.com/oauth2/default``); people paste it with one. Both the endpoint
derivation and the id_token's ``iss`` check use :func:`normalise_issuer`, so either spelling
works and they can never disagree.
"""

from __future__ import annotations

ENDPOINTS = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "token",
    "OIDC_OP_USER_ENDPOINT": "userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "keys",
    "OIDC_OP_LOGOUT_ENDPOINT": "logout",
}


def normalise_issuer(issuer: str) -> str:
    return issuer.strip().rstrip("/")


def okta_endpoints(issuer: str) -> dict[str, str]:
    """Okta's endpoint layout: the org authorization server (issuer = the org URL) under
    ``/oauth2/v1``, a custom authorization server (issuer ``.../oauth2/<id>``) under ``/v1``."""
    base = normalise_issuer(issuer)
    base += "/v1" if "/oauth2/" in base + "/" else "/oauth2/v1"
    return {setting: f"{base}/{name}" for setting, name in ENDPOINTS.items()}

"""A local OpenID Connect provider standing in for Okta (``make run`` and the tests).

It is its own small Django project (django-oauth-toolkit with OIDC on, RS256, PKCE, groups in
the id_token, RP-initiated logout) with its own SQLite database under a data directory. It
never imports ``mi_admin``: the relying party only sees it over HTTP, as it would see Okta.

Run it with ``python -m idp serve --port 8001``; see :mod:`idp.__main__`.
"""

from __future__ import annotations

import hashlib

CLIENT_ID = "mi-admin"
# Matches the development default of mi_admin.settings, so `make run` needs no secret set.
DEFAULT_CLIENT_SECRET = "mi-admin-dev-secret"  # noqa: S105 (a local demo secret, not a real one)
# The SSWS token of its Okta management API (``IDP_API_TOKEN`` overrides it).
DEFAULT_API_TOKEN = "idp-dev-api-token"  # noqa: S105 (a local demo token, not a real one)
# The API's clients at the custom authorization server (idp/authserver.py): the `mi` command
# line (public, PKCE, loopback redirect on any port) and a CI job (client credentials).
CLI_CLIENT_ID = "mi-cli"
CLI_REDIRECT_PATH = "/callback"
MACHINE_CLIENT_ID = "mi-ci"
DEFAULT_MACHINE_CLIENT_SECRET = "mi-ci-dev-secret"  # noqa: S105 (a local demo secret)
# The custom authorization server's id (Okta's is "default") and its API audience.
API_SERVER_ID = "default"
API_AUDIENCE = "api://mi-admin"
# Every demo persona's password.
DEMO_PASSWORD = "demo"  # noqa: S105 (documented demo password)
# The URL prefix django-oauth-toolkit is mounted under: the issuer is ``<base>/o``.
ISSUER_PATH = "/o"


def subject_for(username: str) -> str:
    """The ``sub`` the IdP gives a username: Okta-looking (``00u`` + 17 characters), and
    stable across fresh data directories, so MI Admin keeps matching the same person after
    the IdP's database is thrown away."""
    return "00u" + hashlib.sha256(username.encode()).hexdigest()[:17]


def issuer_for(idp_base_url: str) -> str:
    """The issuer of an IdP served at ``idp_base_url`` (``http://127.0.0.1:8001``)."""
    return idp_base_url.rstrip("/") + ISSUER_PATH


def rp_env(
    idp_base_url: str,
    *,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    api_token: str = DEFAULT_API_TOKEN,
) -> dict[str, str]:
    """The environment MI Admin (the relying party) needs to log in through this IdP.

    The endpoints have Okta's org-server shape (``<issuer>/oauth2/v1/...``), which is also
    what mi_admin.settings derives from ``OIDC_ISSUER`` alone; they are spelled out so that
    nothing depends on that derivation.
    """
    issuer = issuer_for(idp_base_url)
    okta = f"{issuer}/oauth2/v1"
    return {
        "OIDC_ISSUER": issuer,
        "OIDC_OP_AUTHORIZATION_ENDPOINT": f"{okta}/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": f"{okta}/token",
        "OIDC_OP_USER_ENDPOINT": f"{okta}/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": f"{okta}/keys",
        "OIDC_OP_LOGOUT_ENDPOINT": f"{okta}/logout",
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": client_secret,
        # Okta's management API (group memberships of site-admin grants): the org URL.
        "OKTA_ORG_URL": idp_base_url.rstrip("/"),
        "OKTA_API_TOKEN": api_token,
        # The custom authorization server issuing the API's bearer tokens.
        "API_TOKEN_ISSUER": f"{issuer}/oauth2/{API_SERVER_ID}",
        "API_TOKEN_AUDIENCE": API_AUDIENCE,
        "API_TOKEN_JWKS_URL": f"{issuer}/oauth2/{API_SERVER_ID}/v1/keys",
    }

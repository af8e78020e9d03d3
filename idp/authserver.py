"""A custom authorization server, shaped like Okta's (``<issuer>/oauth2/<server id>``): JWT
access tokens for APIs, as MI Admin's JSON API verifies them.

Okta's org server hands out access tokens meant only for Okta; an API trusts the tokens of
a custom authorization server, with its own issuer, audience, scopes and keys. Here it shares
django-oauth-toolkit (clients, codes, PKCE, refresh) with the org server: a token asked for
at ``/o/oauth2/<server id>/v1/token`` is a signed JWT with ``iss``, ``aud``, ``iat``,
``nbf``, ``exp``, ``jti``, ``sub`` (the login, as at Okta; the client id for client
credentials), ``uid`` (the Okta-like user id, the id_token's ``sub``), ``cid``, ``scp`` and
``groups``. Tokens asked for at the org server stay opaque.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from jwcrypto import jwk, jwt
from oauthlib.common import Request, generate_token

from idp import subject_for

SCOPES = {"mi.read": "Read MI Admin", "mi.write": "Change MI Admin"}


def _setting(name: str) -> Any:
    # The IdP's own settings (idp/settings.py), which the type checker does not know.
    return getattr(settings, name)


def server_path() -> str:
    return f"/oauth2/{_setting('API_SERVER_ID')}"


def server_issuer() -> str:
    return f"{_setting('ISSUER')}{server_path()}"


def _signing_key() -> jwk.JWK:
    return jwk.JWK.from_pem(_setting("OAUTH2_PROVIDER")["OIDC_RSA_PRIVATE_KEY"].encode())


def access_token(request: Request) -> str:
    """django-oauth-toolkit's ACCESS_TOKEN_GENERATOR: a JWT at the custom server's token
    endpoint, an opaque token elsewhere (the org server)."""
    if f"{server_path()}/v1/" not in (request.uri or ""):
        return str(generate_token())
    now = int(time.time())
    client_id = str(request.client_id or getattr(request.client, "client_id", ""))
    claims: dict[str, Any] = {
        "ver": 1,
        "jti": uuid.uuid4().hex,
        "iss": server_issuer(),
        "aud": _setting("API_AUDIENCE"),
        "iat": now,
        "nbf": now,
        "exp": now + int(_setting("OAUTH2_PROVIDER")["ACCESS_TOKEN_EXPIRE_SECONDS"]),
        "cid": client_id,
        "scp": sorted(request.scopes or []),
    }
    user = getattr(request, "user", None)
    if request.grant_type == "client_credentials" or user is None:
        claims["sub"] = client_id
    else:
        claims["sub"] = user.email or user.username
        claims["uid"] = subject_for(user.username)
        claims["groups"] = sorted(user.groups.values_list("name", flat=True))
    key = _signing_key()
    token = jwt.JWT(
        header={"alg": "RS256", "kid": key.thumbprint(), "typ": "application/okta-internal-at+jwt"},
        claims=claims,
    )
    token.make_signed_token(key)
    return str(token.serialize())


def metadata(request: HttpRequest) -> JsonResponse:
    """``/.well-known/oauth-authorization-server`` of the custom server (RFC 8414)."""
    issuer = server_issuer()
    return JsonResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/v1/authorize",
            "token_endpoint": f"{issuer}/v1/token",
            "jwks_uri": f"{issuer}/v1/keys",
            "revocation_endpoint": f"{issuer}/v1/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "scopes_supported": ["openid", "offline_access", *SCOPES],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
        }
    )


def keys(request: HttpRequest) -> JsonResponse:
    """The server's JWKS (the same RS256 key as the org server, by its thumbprint)."""
    key = _signing_key()
    public = {
        "alg": "RS256",
        "use": "sig",
        "kid": key.thumbprint(),
        **json.loads(key.export_public()),
    }
    return JsonResponse({"keys": [public]})

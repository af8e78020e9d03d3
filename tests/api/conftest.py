"""Fixtures of the API tests: MI Admin aimed at the local IdP's custom authorization server,
and ``token_for(persona, ...)``: an access token as that server signs it (its key, its kid),
with any claim overridden, for the checks a real token flow cannot provoke."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from jwcrypto import jwk

from idp import MACHINE_CLIENT_ID
from idp.process import IdpProcess
from mi_admin.accounts.roles import Role
from mi_admin.api.tokens import jwks_cache
from tests.fixtures.personas import PERSONA_ROLES, make_persona

MACHINE = "machine"
API_PERSONAS = ["anonymous", *PERSONA_ROLES, MACHINE]
ALL_SCOPES = ("mi.read", "mi.write")


def idp_signing_key(idp: IdpProcess) -> tuple[str, str]:
    """The IdP's private key (PEM) and its kid (the JWK thumbprint, as its JWKS names it)."""
    pem = idp.signing_key_path.read_text()
    return pem, jwk.JWK.from_pem(pem.encode()).thumbprint()


def claims_for(name: str, *, scopes: tuple[str, ...] = ALL_SCOPES) -> dict[str, Any]:
    """Claims as the custom authorization server writes them for a persona (people: the
    Okta-like user id in ``uid`` matching make_persona's ``oidc_sub``; the machine client:
    ``sub`` = ``cid``, no groups)."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": settings.API_TOKEN_ISSUER,
        "aud": settings.API_TOKEN_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "scp": list(scopes),
    }
    if name == MACHINE:
        return {**base, "sub": MACHINE_CLIENT_ID, "cid": MACHINE_CLIENT_ID}
    role = PERSONA_ROLES[name]
    groups = [settings.OIDC_ROLE_GROUPS[role.value]] if role else []
    return {
        **base,
        "sub": f"{name}@example.com",
        "uid": f"sub-{name}",
        "cid": "mi-cli",
        "preferred_username": name,
        "groups": groups,
    }


@pytest.fixture(autouse=True)
def _fresh_api_state() -> Iterator[None]:
    # Each test reads the JWKS afresh and starts with no throttle history.
    jwks_cache.clear()
    cache.clear()
    yield
    jwks_cache.clear()


@pytest.fixture
def api_settings(oidc_settings: IdpProcess, settings: Any) -> IdpProcess:
    """MI Admin trusting the session IdP's custom authorization server; machine client
    ``mi-ci`` is DevOps."""
    settings.API_MACHINE_CLIENTS = {MACHINE_CLIENT_ID: Role.DEVOPS.value}
    return oidc_settings


@pytest.fixture
def token_for(api_settings: IdpProcess) -> Callable[..., str]:
    pem, kid = idp_signing_key(api_settings)

    def mint(
        name: str,
        *,
        scopes: tuple[str, ...] = ALL_SCOPES,
        headers: dict[str, Any] | None = None,
        key: str | None = None,
        **overrides: Any,
    ) -> str:
        claims = {**claims_for(name, scopes=scopes), **overrides}
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(
            claims, key or pem, algorithm="RS256", headers={"kid": kid, **(headers or {})}
        )

    return mint


@pytest.fixture
def api_client_for(db: None, token_for: Callable[..., str]) -> Callable[..., Client]:
    """A client for a persona: ``transport="session"`` (signed in, as a browser) or
    ``"bearer"`` (an access token); the machine client only has a token."""

    def build(name: str, transport: str = "bearer") -> Client:
        if name == "anonymous":
            return Client()
        if name != MACHINE:
            user = make_persona(name)
            if transport == "session":
                client = Client()
                client.force_login(user)
                return client
        return Client(HTTP_AUTHORIZATION=f"Bearer {token_for(name)}")

    return build

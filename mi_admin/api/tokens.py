"""Okta access tokens (JWTs from the organisation's custom authorization server), verified
here without calling Okta: the signature against the server's JWKS (kept in memory,
fetched again when a token names an unknown ``kid``, at most once per
``API_JWKS_MIN_REFRESH_SECONDS``), the algorithm (allow-list, never ``none``), ``iss``,
``aud``, ``exp`` / ``nbf`` with a small leeway, and ``sub``.

Scopes are checked per request by :mod:`mi_admin.api.permissions` (reading needs the read
scope, changing the write scope).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from django.conf import settings

logger = logging.getLogger(__name__)


class TokenInvalid(Exception):
    """The bearer token is not one of ours (the sentence says why, without secrets)."""


@dataclass(frozen=True)
class VerifiedToken:
    """The claims of a token that passed every check."""

    claims: dict[str, Any]
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def subject(self) -> str:
        return str(self.claims["sub"])

    @property
    def client_id(self) -> str:
        return str(self.claims.get("cid") or self.claims.get("client_id") or "")

    @property
    def is_machine(self) -> bool:
        """A client-credentials token: Okta sets ``sub`` to the client id and has no user."""
        return bool(self.client_id) and self.subject == self.client_id


class JwksCache:
    """The authorization server's signing keys by ``kid``, in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] = {}
        self._url = ""
        self._fetched_at = 0.0
        self.fetches = 0  # for tests and logs: how often the JWKS was read

    def clear(self) -> None:
        with self._lock:
            self._keys, self._url, self._fetched_at = {}, "", 0.0

    def _fetch(self, url: str) -> None:
        self.fetches += 1
        self._fetched_at = time.monotonic()
        try:
            response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
            response.raise_for_status()
            jwks = jwt.PyJWKSet.from_dict(response.json())
        except (requests.RequestException, ValueError, jwt.PyJWKSetError) as exc:
            logger.warning("reading the JWKS at %s failed: %s", url, exc)
            return
        self._keys = {key.key_id: key for key in jwks.keys if key.key_id}
        self._url = url
        logger.info("JWKS from %s: %s", url, sorted(self._keys))

    def key(self, kid: str) -> jwt.PyJWK | None:
        url = settings.API_TOKEN_JWKS_URL
        with self._lock:
            stale = url != self._url or (
                time.monotonic() - self._fetched_at > settings.API_JWKS_MAX_AGE_SECONDS
            )
            unknown = kid not in self._keys
            # An unknown kid may be a key Okta just rotated in; a flood of made-up kids must
            # not turn into a flood of JWKS requests.
            may_refetch = (
                time.monotonic() - self._fetched_at >= settings.API_JWKS_MIN_REFRESH_SECONDS
            )
            if stale or (unknown and may_refetch):
                self._fetch(url)
            return self._keys.get(kid)


jwks_cache = JwksCache()


def _scopes(claims: dict[str, Any]) -> frozenset[str]:
    raw = claims.get("scp", claims.get("scope", []))
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list):
        return frozenset(str(s) for s in raw)
    return frozenset()


def token_verify(token: str) -> VerifiedToken:
    """The verified claims of ``token``, or :class:`TokenInvalid` saying what is wrong."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid("the bearer token is not a JWT") from exc
    algorithm = header.get("alg")
    if algorithm not in settings.API_TOKEN_ALGORITHMS:
        raise TokenInvalid(f"tokens signed with {algorithm!r} are not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenInvalid("the token names no signing key (kid)")
    key = jwks_cache.key(kid)
    if key is None:
        raise TokenInvalid(f"the token's signing key {kid!r} is not one of the issuer's")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=list(settings.API_TOKEN_ALGORITHMS),
            audience=settings.API_TOKEN_AUDIENCE,
            issuer=settings.API_TOKEN_ISSUER,
            leeway=settings.API_TOKEN_LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenInvalid("the token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenInvalid("the token is not valid yet (nbf)") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenInvalid("the token is for another audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenInvalid("the token is from another issuer") from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenInvalid("the token's signature does not verify") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid(f"the token is invalid: {exc}") from exc
    return VerifiedToken(claims=claims, scopes=_scopes(claims))

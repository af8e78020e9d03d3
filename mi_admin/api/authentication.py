"""How API callers prove who they are: an Okta bearer token, or the browser session (with
DRF's CSRF check, so a page's script can call the API and a forged form cannot)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request

from mi_admin.accounts.models import User
from mi_admin.api.principals import PrincipalRefused, principal_for_token
from mi_admin.api.tokens import TokenInvalid, VerifiedToken, token_verify
from mi_admin.audit.context import _current

logger = logging.getLogger(__name__)

REALM = 'Bearer realm="mi-admin"'


class OktaBearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer <Okta access token>``, verified locally (mi_admin.api.tokens)."""

    def authenticate(self, request: Request) -> tuple[User, VerifiedToken] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        credentials = credentials.strip()
        if not credentials:
            raise exceptions.AuthenticationFailed("The Authorization header has no token.")
        try:
            token = token_verify(credentials)
        except TokenInvalid as exc:
            logger.info("refused a bearer token: %s", exc)
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}.") from exc
        try:
            user = principal_for_token(token)
        except PrincipalRefused as exc:
            logger.info("refused token of %s: %s", token.subject, exc)
            raise exceptions.PermissionDenied(f"{exc}.") from exc
        # Every audit event of this request names the token's subject and client.
        via = f"api sub={token.subject} cid={token.client_id or '-'}"
        _current.set(replace(_current.get(), via=via))
        return user, token

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a caller without credentials.
        return REALM


class CsrfSessionAuthentication(SessionAuthentication):
    """The browser session, CSRF-checked on unsafe methods (DRF's own check)."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is not None:
            _current.set(replace(_current.get(), via="api session"))
        return result

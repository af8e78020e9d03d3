"""Okta login: mozilla-django-oidc, hardened and mapped onto MI Admin's users and roles.

* :class:`OktaAuthenticationBackend` checks the id_token beyond mozilla's signature, ``exp``
  and nonce checks (``iss``, ``aud``, ``azp``), matches people on ``sub``, takes groups from
  the verified id_token only (Okta's org server leaves them out of userinfo) and syncs roles.
* :class:`OktaCallbackView` turns every failed login into one ``user_login_failed`` signal
  with a reason (which the audit trail records) and a message for the person.
* :class:`SessionRefreshMiddleware` re-checks the Okta session silently, except for
  break-glass sessions, which have no Okta session.
* :func:`provider_logout_url` ends the Okta session too (RP-initiated logout).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.middleware import SessionRefresh
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from mi_admin.accounts.breakglass import is_break_glass_session
from mi_admin.accounts.group_sync import okta_groups_from_claims, sync_roles
from mi_admin.accounts.models import User
from mi_admin.accounts.okta import normalise_issuer
from mi_admin.accounts.rules import public
from mi_admin.audit.services import audit_record
from mi_admin.http import same_site_path

logger = logging.getLogger(__name__)

USERNAME_MAX = 150
# Answers to a prompt=none request that mean "ask the person" (OIDC Core 3.1.2.6).
SILENT_CHECK_ERRORS = frozenset(
    {"login_required", "consent_required", "interaction_required", "account_selection_required"}
)
# Set by mozilla's callback on every successful Okta login.
OIDC_EXPIRY_KEY = "oidc_id_token_expiration"


class OidcLoginError(Exception):
    """An Okta login that must not succeed. ``reason`` is for the audit trail."""

    def __init__(self, reason: str, *, sub: str = "", username: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.sub = sub
        self.username = username


def check_id_token_claims(payload: dict[str, Any], *, issuer: str, client_id: str) -> None:
    """Refuse an id_token not issued by our Okta for our client (OIDC Core 3.1.3.7).

    The issuers are compared without a trailing slash on either side (OIDC_ISSUER is often
    pasted with one; Okta's ``iss`` has none)."""
    iss = payload.get("iss")
    if not isinstance(iss, str) or normalise_issuer(iss) != normalise_issuer(issuer):
        raise SuspiciousOperation(f"id_token issuer {payload.get('iss')!r} is not {issuer!r}")
    audience = payload.get("aud")
    audiences = [audience] if isinstance(audience, str) else list(audience or [])
    if client_id not in audiences:
        raise SuspiciousOperation(f"id_token audience {audiences!r} does not include {client_id!r}")
    azp = payload.get("azp")
    if azp is not None and azp != client_id:
        raise SuspiciousOperation(f"id_token azp {azp!r} is not {client_id!r}")
    if len(audiences) > 1 and azp is None:
        raise SuspiciousOperation("id_token has several audiences and no azp")
    if not isinstance(payload.get("sub"), str) or not payload["sub"]:
        raise SuspiciousOperation("id_token has no sub")


def _unique_username(wanted: str, sub: str) -> str:
    base = (wanted or sub)[:USERNAME_MAX]
    if not User.objects.filter(username=base).exists():
        return base
    for n in range(2, 100):
        suffix = f"-{n}"
        candidate = base[: USERNAME_MAX - len(suffix)] + suffix
        if not User.objects.filter(username=candidate).exists():
            return candidate
    return sub[:USERNAME_MAX]


def _profile(claims: dict[str, Any]) -> dict[str, str]:
    return {
        "email": str(claims.get("email") or ""),
        "display_name": str(claims.get("name") or "")[:255],
        "first_name": str(claims.get("given_name") or "")[:150],
        "last_name": str(claims.get("family_name") or "")[:150],
    }


class OktaAuthenticationBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend with Okta's claims and MI Admin's users and roles."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        # Failures become OidcLoginError, which the callback view reports with its reason;
        # mozilla would otherwise answer some with a 400/500 and swallow others silently.
        try:
            user: User | None = super().authenticate(request, **kwargs)
        except OidcLoginError:
            raise
        except SuspiciousOperation as exc:
            raise OidcLoginError(str(exc)) from exc
        except requests.RequestException as exc:
            raise OidcLoginError(f"talking to the provider failed: {exc}") from exc
        return user

    def verify_token(self, token: str, **kwargs: Any) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise SuspiciousOperation(f"id_token is not a JWS: {exc}") from exc
        if "kid" not in header:
            # mozilla would fail with a KeyError (a 500); Okta always names its key.
            raise SuspiciousOperation("id_token header has no kid")
        try:
            # Signature against the JWKS key named by `kid`, alg, exp (PyJWT) and nonce.
            payload: dict[str, Any] = super().verify_token(token, **kwargs)
        except jwt.InvalidTokenError as exc:
            # mozilla only maps DecodeError; an expired token would escape as a 500.
            raise SuspiciousOperation(f"id_token rejected: {exc}") from exc
        check_id_token_claims(
            payload, issuer=settings.OIDC_ISSUER, client_id=self.OIDC_RP_CLIENT_ID
        )
        return payload

    def get_userinfo(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """userinfo for the profile, overlaid with the verified id_token (the only source
        of groups: Okta's org server leaves them out of userinfo)."""
        userinfo: dict[str, Any] = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload["sub"]:
            raise SuspiciousOperation("userinfo is about another subject than the id_token")
        claims = {k: v for k, v in userinfo.items() if k != settings.OIDC_GROUPS_CLAIM}
        claims.update(payload)
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        # `sub` is stable; emails and names change and must never decide who someone is.
        return self.UserModel.objects.filter(oidc_sub=claims["sub"])

    def create_user(self, claims: dict[str, Any]) -> User:
        sub = claims["sub"]
        wanted = str(claims.get("preferred_username") or claims.get("email") or "")
        try:
            with transaction.atomic():
                user = User(
                    username=_unique_username(wanted, sub), oidc_sub=sub, **_profile(claims)
                )
                user.set_unusable_password()
                user.save()
                audit_record(
                    action="auth.user_created",
                    obj=user,
                    actor_label="okta",
                    after={"username": user.username, "oidc_sub": sub, "email": user.email},
                )
        except IntegrityError:
            # The same person's first login racing in two tabs: the other one created them.
            user = User.objects.get(oidc_sub=sub)
        logger.info("created %s for Okta subject %s", user.username, sub)
        return self.update_user(user, claims)

    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        if not user.is_active:
            raise OidcLoginError(
                "account is deactivated in MI Admin", sub=claims["sub"], username=user.username
            )
        profile = _profile(claims)
        changed = [field for field, value in profile.items() if getattr(user, field) != value]
        for field in changed:
            setattr(user, field, profile[field])
        if changed:
            user.save(update_fields=changed)
        sync_roles(user, okta_groups_from_claims(claims))
        return user


def _login_failed(request: HttpRequest, reason: str, *, sub: str = "", username: str = "") -> None:
    credentials = {"reason": reason, "sub": sub, "username": username}
    logger.warning("Okta login failed (%s) for %s", reason, sub or username or "unknown subject")
    user_login_failed.send(
        sender=__name__, credentials={k: v for k, v in credentials.items() if v}, request=request
    )


@public
@method_decorator(login_not_required, name="dispatch")
class OktaCallbackView(OIDCAuthenticationCallbackView):
    """The redirect back from Okta. Every failure is reported once, with its reason."""

    @property
    def failure_url(self) -> str:
        return str(resolve_url(settings.LOGIN_URL))

    def get(self, request: HttpRequest) -> HttpResponse:
        error = request.GET.get("error")
        if error in SILENT_CHECK_ERRORS:
            # The silent session check (prompt=none) could not renew the session without the
            # person (no Okta session, or Okta wants them to consent, choose an account or
            # do something else): sign in again; not a failed login attempt.
            if error == "login_required":
                messages.info(request, "Your Okta session has ended. Sign in again.")
            else:
                messages.info(request, "Okta needs you to sign in again.")
            logger.info("Okta session of %s not renewed silently (%s)", request.user, error)
            return super().get(request)
        if error:
            description = request.GET.get("error_description", "")
            _login_failed(request, f"provider answered {error}: {description}".strip(": "))
            messages.error(request, "Okta refused the sign-in. Try again.")
            return super().get(request)
        state = request.GET.get("state")
        if "code" in request.GET and state not in request.session.get("oidc_states", {}):
            # A replayed or stale callback (e.g. the back button, or a second tab).
            _login_failed(request, "unknown or already used state")
            messages.error(request, "That sign-in link has expired. Sign in again.")
            return self.login_failure()
        try:
            response: HttpResponse = super().get(request)
        except OidcLoginError as exc:
            request.session.pop("oidc_id_token", None)
            _login_failed(request, exc.reason, sub=exc.sub, username=exc.username)
            messages.error(request, "Sign-in with Okta did not complete. Try again.")
            return self.login_failure()
        return response


@public
@method_decorator(login_not_required, name="dispatch")
class OktaAuthenticationRequestView(OIDCAuthenticationRequestView):
    """Starts the login: redirects to Okta with state, nonce and a PKCE challenge."""


class SessionRefreshMiddleware(SessionRefresh):
    """Re-checks the Okta session (``prompt=none``) once the id_token's time is up.

    Only sessions an Okta login made (the callback records the id_token's renewal time) are
    re-checked. Break-glass sessions are skipped: they exist because Okta is unavailable.
    So are sessions made without Okta at all (``Client.force_login`` in tests), which
    mozilla would otherwise bounce to Okta on every request.
    """

    # mozilla reads these once at start-up; reading them at use lets settings change at
    # run time (the tests point MI Admin at a fresh IdP).
    @property
    def OIDC_OP_AUTHORIZATION_ENDPOINT(self) -> str:
        return str(self.get_settings("OIDC_OP_AUTHORIZATION_ENDPOINT"))

    @OIDC_OP_AUTHORIZATION_ENDPOINT.setter
    def OIDC_OP_AUTHORIZATION_ENDPOINT(self, value: str) -> None:
        pass

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(self.get_settings("OIDC_RP_CLIENT_ID"))

    @OIDC_RP_CLIENT_ID.setter
    def OIDC_RP_CLIENT_ID(self, value: str) -> None:
        pass

    def is_refreshable_url(self, request: HttpRequest) -> bool:
        if is_break_glass_session(request) or OIDC_EXPIRY_KEY not in request.session:
            return False
        return bool(super().is_refreshable_url(request))

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        response: HttpResponse | None = super().process_request(request)
        if (
            response is not None
            and request.headers.get("HX-Request")
            and response.status_code == 302
        ):
            # An htmx partial cannot follow a redirect to Okta: have htmx navigate the whole
            # page, and come back to the page the person was on rather than the partial.
            back_to = same_site_path(request.headers.get("HX-Current-URL", ""), request)
            if back_to is not None:
                request.session["oidc_login_next"] = back_to
            hx = HttpResponse(status=200)
            hx["HX-Redirect"] = response["Location"]
            return hx
        return response


def provider_logout_url(request: HttpRequest) -> str:
    """Where to send someone after the local logout: Okta's end_session endpoint (with the
    id_token as hint, and back to the login page), or the login page for sessions that have
    no id_token (break-glass)."""
    after = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL))
    id_token = request.session.get("oidc_id_token")
    endpoint = settings.OIDC_OP_LOGOUT_ENDPOINT
    if not id_token or not endpoint:
        return after
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": after})
    return f"{endpoint}?{query}"

"""Break-glass local accounts: for when Okta is down. Off unless ``BREAK_GLASS_ENABLED``.

django-allauth does the password and TOTP steps (under ``/break-glass/``). This adapter
closes sign-up and makes TOTP mandatory: an account without a TOTP authenticator cannot sign
in at all, and a login that somehow skipped the TOTP step is undone. Every break-glass login
is audited and flagged in the session, so every page shows a banner.

Failed sign-ins are limited per account *and source address* (allauth's ``login_failed``
key is the username plus the client IP), so a stranger hammering the account from one
address locks out only that address, never the operator signing in from elsewhere during an
outage; a generous per-account limit (``login_failed_account``) still stops a spread-out
guess. TOTP secrets are encrypted at rest (:mod:`mi_admin.accounts.mfa_crypto`).
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.authentication import get_authentication_records
from allauth.account.internal.stagekit import clear_login
from allauth.core.internal import ratelimit
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from mi_admin.accounts.mfa_crypto import decrypt_secret, encrypt_secret
from mi_admin.accounts.roles import user_roles
from mi_admin.audit.services import audit_record
from mi_admin.http import client_ip

logger = logging.getLogger(__name__)

SESSION_FLAG = "break_glass"
# Failed sign-ins of one account from every address together (ACCOUNT_RATE_LIMITS).
ACCOUNT_FAILED_ACTION = "login_failed_account"
BREAK_GLASS_LOGIN = "auth.break_glass_login"

# Set while BreakGlassAccountAdapter checks a password, so the backend can tell the
# break-glass sign-in from any other caller of django.contrib.auth.authenticate().
_in_break_glass_sign_in: ContextVar[bool] = ContextVar("in_break_glass_sign_in", default=False)


def is_break_glass_session(request: HttpRequest) -> bool:
    """True when the person signed in with a break-glass account (for the banner)."""
    session = getattr(request, "session", None)
    if session is not None and session.get(SESSION_FLAG):
        return True
    user = getattr(request, "user", None)
    return bool(
        user is not None and user.is_authenticated and getattr(user, "is_break_glass", False)
    )


def has_totp(user: AbstractBaseUser) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def refusal_reason(user: AbstractBaseUser) -> str:
    """Why this account may not sign in through break-glass ("" when it may)."""
    if not settings.BREAK_GLASS_ENABLED:
        return "break-glass login is disabled"
    if not getattr(user, "is_break_glass", False):
        return "not a break-glass account"
    if not has_totp(user):
        return "break-glass account has no TOTP authenticator"
    return ""


def _used_totp(request: HttpRequest, user: AbstractBaseUser) -> bool:
    return any(
        record.get("method") == "mfa" and record.get("type") == Authenticator.Type.TOTP
        for record in get_authentication_records(request, user)
    )


def _refuse(
    request: HttpRequest, user: AbstractBaseUser, reason: str, message: str
) -> HttpResponse:
    # allauth keeps the half-finished login in the session; drop it (as allauth itself does
    # for inactive accounts) so nothing can resume it.
    clear_login(request)
    logger.warning("break-glass login of %s refused: %s", user.get_username(), reason)
    user_login_failed.send(
        sender=__name__,
        credentials={"username": user.get_username(), "reason": reason},
        request=request,
    )
    messages.error(request, message)
    return redirect("account_login")


class BreakGlassAuthenticationBackend(AuthenticationBackend):
    """allauth's username/password check, answering only inside the break-glass sign-in.

    Elsewhere (Django admin's login form, anything else calling ``authenticate()`` with a
    username and password) the password alone would sign a break-glass account in and skip
    the TOTP step, so there it answers nothing.
    """

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> Any:
        if not _in_break_glass_sign_in.get():
            return None
        return super().authenticate(request, **credentials)


class BreakGlassAccountAdapter(DefaultAccountAdapter):
    """allauth for break-glass accounts only: no sign-up, TOTP mandatory, all audited."""

    def authenticate(self, request: HttpRequest, **credentials: Any) -> Any:
        token = _in_break_glass_sign_in.set(True)
        try:
            return super().authenticate(request, **credentials)
        finally:
            _in_break_glass_sign_in.reset(token)

    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's rate limits see the same address as the audit trail (mi_admin/http.py).
        ip = client_ip(request)
        if ip is None:
            raise PermissionDenied("Unable to determine the client's IP address")
        return ip

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth keys the `login_failed` limit on the username alone, so anyone could lock
        # the real operator out; per username and source, a stranger locks out only himself.
        login = str(credentials.get("username", "")).lower()
        return f"{login}|{self.get_client_ip(request)}"

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        super().pre_authenticate(request, **credentials)
        login = str(credentials.get("username", "")).lower()
        if not ratelimit.consume(
            request, app="allauth.account", action=ACCOUNT_FAILED_ACTION, key=login, dry_run=True
        ):
            self._rollback_login_failed_rl_usage()
            raise self.validation_error("too_many_login_attempts")

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        # Only failures count towards the per-account limit, from whatever address.
        login = str(credentials.get("username", "")).lower()
        ratelimit.consume(request, app="allauth.account", action=ACCOUNT_FAILED_ACTION, key=login)
        super().authentication_failed(request, **credentials)

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        # Accounts are made with `manage.py breakglass_create`, never by visitors.
        return False

    def pre_login(self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> Any:
        reason = refusal_reason(user)
        if reason == "break-glass account has no TOTP authenticator":
            return _refuse(
                request,
                user,
                reason,
                "This break-glass account has no authenticator app set up, so it cannot sign "
                "in. An operator must recreate it with manage.py breakglass_create.",
            )
        if reason:
            return _refuse(
                request, user, reason, "This account cannot sign in here. Sign in with Okta."
            )
        return super().pre_login(request, user, **kwargs)

    def post_login(self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> Any:
        if not _used_totp(request, user):
            # The TOTP stage must have run; if a configuration change ever skips it, the
            # password alone must still not be enough.
            auth.logout(request)
            return _refuse(
                request, user, "login completed without TOTP", "Sign-in needs your TOTP code."
            )
        request.session[SESSION_FLAG] = True
        audit_record(
            action=BREAK_GLASS_LOGIN,
            actor=user,
            obj=user,
            after={"roles": sorted(role.value for role in user_roles(user)), "mfa": "totp"},
        )
        logger.warning("break-glass login by %s", user.get_username())
        return super().post_login(request, user, **kwargs)


class BreakGlassMFAAdapter(DefaultMFAAdapter):
    """allauth.mfa with TOTP secrets encrypted at rest under MFA_ENCRYPTION_KEY."""

    def encrypt(self, text: str) -> str:
        return encrypt_secret(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_secret(encrypted_text)

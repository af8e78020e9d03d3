"""Logins, logouts and failed logins go into the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from mi_admin.accounts.models import User
from mi_admin.audit.services import audit_record, audit_record_failure

# Never store what was typed as a password or the raw tokens; the username/sub is enough.
_SAFE_CREDENTIAL_KEYS = ("username", "login", "sub", "email", "reason")


@receiver(user_logged_in, dispatch_uid="audit_login")
def audit_login(sender: Any, request: HttpRequest | None, user: User, **_: Any) -> None:
    method = "break_glass" if user.is_break_glass else "okta"
    audit_record(action="auth.login", actor=user, obj=user, after={"method": method})


@receiver(user_logged_out, dispatch_uid="audit_logout")
def audit_logout(sender: Any, request: HttpRequest | None, user: User | None, **_: Any) -> None:
    if user is None:
        return
    audit_record(action="auth.logout", actor=user, obj=user)


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    # Anyone can cause these (the login form, Okta error callbacks): the trail folds
    # repeats from one address and caps the text an attacker chooses.
    safe = {k: str(v) for k, v in credentials.items() if k in _SAFE_CREDENTIAL_KEYS}
    audit_record_failure(
        action="auth.login_failed",
        actor_label=safe.get("username") or safe.get("login") or safe.get("sub", ""),
        details=safe,
    )

"""Login, logout, the OIDC handshake (``/oidc/``) and, when enabled, break-glass
(``/break-glass/``). Included at the root by ``mi_admin.urls``.

The ``accounts`` namespace covers only our own views: mozilla-django-oidc reverses its URL
names without a namespace, so its URLs stay outside it.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path

from mi_admin.accounts import views

account_patterns = [
    path("login/", views.login_page, name="login"),
    path("logout/", views.logout_view, name="logout"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include((account_patterns, "accounts"))),
    path("oidc/", include("mozilla_django_oidc.urls")),
]

if settings.BREAK_GLASS_ENABLED:
    from allauth.account import views as account_views
    from allauth.mfa.base import views as mfa_views

    # Only the steps of a break-glass sign-in, not all of allauth: no password set/change,
    # reset by email or authenticator management, which any signed-in Okta user could
    # otherwise reach (allauth's views are outside the role rules).
    break_glass_patterns = [
        path("login/", account_views.login, name="account_login"),
        path("logout/", account_views.logout, name="account_logout"),
        path("inactive/", account_views.account_inactive, name="account_inactive"),
        # Closed (BreakGlassAccountAdapter); allauth's login view still links to it.
        path("signup/", account_views.signup, name="account_signup"),
        path("2fa/authenticate/", mfa_views.authenticate, name="mfa_authenticate"),
    ]
    urlpatterns.append(path("break-glass/", include(break_glass_patterns)))

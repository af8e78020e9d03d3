"""The login page ("Sign in with Okta") and logout (local, then Okta's end_session)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import auth
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mi_admin.accounts.oidc import provider_logout_url
from mi_admin.accounts.rules import public


def _okta_login_url(request: HttpRequest) -> str:
    url = reverse("oidc_authentication_init")
    next_url = request.GET.get("next", "")
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        url += "?" + urlencode({"next": next_url})
    return url


@public
@never_cache
@require_GET
def login_page(request: HttpRequest) -> HttpResponse:
    # Shown to signed-in people too (the header says who they are): signing in again with
    # Okta is how someone picks up group changes without waiting for the session check.
    context = {
        "okta_login_url": _okta_login_url(request),
        "logged_out": "logged_out" in request.GET,
        "break_glass_url": reverse("account_login") if settings.BREAK_GLASS_ENABLED else "",
    }
    return render(request, "accounts/login.html", context)


# Public: someone whose session lost its role (or who never had one) must be able to leave.
@public
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect(settings.LOGOUT_REDIRECT_URL)
    # Built before the local logout, which clears the session holding the id_token.
    target = provider_logout_url(request)
    auth.logout(request)
    return HttpResponseRedirect(target or resolve_url(settings.LOGOUT_REDIRECT_URL))

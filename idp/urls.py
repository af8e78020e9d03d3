"""URLs of the local IdP.

django-oauth-toolkit is mounted at ``/o/`` (the issuer, with discovery and JWKS under it),
and its endpoints are mounted again under Okta's org-server names
(``/o/oauth2/v1/authorize``, ``token``, ``userinfo``, ``keys``, ``logout``) so the relying
party's Okta-shaped defaults work unchanged. The few management API endpoints MI Admin
calls (users, groups, memberships) are under ``/api/v1/`` as at Okta (:mod:`idp.api`).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.views import LogoutView
from django.urls import include, path
from oauth2_provider import views as oauth_views

from idp import api, authserver, views

okta_org_server = [
    path("authorize", oauth_views.AuthorizationView.as_view(), name="okta-authorize"),
    path("token", oauth_views.TokenView.as_view(), name="okta-token"),
    path("userinfo", oauth_views.UserInfoView.as_view(), name="okta-userinfo"),
    path("keys", oauth_views.JwksInfoView.as_view(), name="okta-keys"),
    path("logout", oauth_views.RPInitiatedLogoutView.as_view(), name="okta-logout"),
    path("revoke", oauth_views.RevokeTokenView.as_view(), name="okta-revoke"),
]

# The custom authorization server (Okta: /oauth2/<server id>/...): JWT access tokens for APIs.
custom_server = [
    path("v1/authorize", oauth_views.AuthorizationView.as_view(), name="api-authorize"),
    path("v1/token", oauth_views.TokenView.as_view(), name="api-token"),
    path("v1/keys", authserver.keys, name="api-keys"),
    path("v1/revoke", oauth_views.RevokeTokenView.as_view(), name="api-revoke"),
    path(".well-known/oauth-authorization-server", authserver.metadata, name="api-metadata"),
]

okta_api = [
    path("users/<str:key>", api.user_get, name="okta-api-user"),
    path("groups", api.groups_list, name="okta-api-groups"),
    path("groups/<str:group_id>", api.group_get, name="okta-api-group"),
    path("groups/<str:group_id>/users", api.group_users, name="okta-api-group-users"),
    path("groups/<str:group_id>/users/<str:user_id>", api.group_user, name="okta-api-group-user"),
]

urlpatterns = [
    path("api/v1/", include(okta_api)),
    path("", views.home, name="home"),
    path("login/", views.IdpLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("o/oauth2/v1/", include(okta_org_server)),
    path(f"o{authserver.server_path()}/", include(custom_server)),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
]

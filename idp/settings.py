"""Settings of the local OIDC provider (Okta's stand-in). Driven by a few ``IDP_*`` variables
that ``python -m idp`` sets: ``IDP_DATA_DIR`` (SQLite database and keys), ``IDP_ISSUER``."""

from __future__ import annotations

import os
from pathlib import Path

from idp import API_AUDIENCE, API_SERVER_ID, DEFAULT_API_TOKEN
from idp.keys import django_secret_key, signing_key_pem

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("IDP_DATA_DIR", BASE_DIR.parent / "var" / "idp")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = django_secret_key(DATA_DIR)
DEBUG = os.environ.get("IDP_DEBUG", "").lower() in {"1", "true", "yes"}
ALLOWED_HOSTS = [
    "127.0.0.1",
    "localhost",
    "[::1]",
    *os.environ.get("IDP_ALLOWED_HOSTS", "").split(),
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "oauth2_provider",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "idp.urls"
WSGI_APPLICATION = "idp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "idp.sqlite3",
        # The server and `python -m idp set-groups` write at the same time, and so do
        # concurrent sign-ins (the token endpoint reads, then writes, in one transaction).
        # IMMEDIATE takes the write lock at BEGIN, where SQLite waits out ``timeout``; a
        # deferred transaction upgrading its read lock fails at once: "database is locked".
        "OPTIONS": {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL;",
            "transaction_mode": "IMMEDIATE",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every persona's password is "demo": a fast hasher keeps start-up (seeding) and logins instant.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# MI Admin runs on the same host (127.0.0.1, another port) and browsers share cookies across
# ports: distinct names keep the two sessions from overwriting each other.
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"
SESSION_COOKIE_SAMESITE = "Lax"

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

ISSUER = os.environ.get("IDP_ISSUER", "")
# The custom authorization server for APIs (Okta's "default" server): its id and audience.
API_SERVER_ID = os.environ.get("IDP_API_SERVER_ID", API_SERVER_ID)
API_AUDIENCE = os.environ.get("IDP_API_AUDIENCE", API_AUDIENCE)
# The SSWS token of the Okta management API (idp/api.py).
API_TOKEN = os.environ.get("IDP_API_TOKEN", DEFAULT_API_TOKEN)

OAUTH2_PROVIDER = {
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": signing_key_pem(DATA_DIR),
    # Fixed rather than derived from each request's Host, so a browser reaching the IdP as
    # "localhost" still gets the issuer the relying party expects.
    "OIDC_ISS_ENDPOINT": ISSUER,
    "OAUTH2_VALIDATOR_CLASS": "idp.validators.IdpOAuth2Validator",
    "SCOPES": {
        "openid": "OpenID Connect",
        "email": "Email address",
        "profile": "Name and username",
        "groups": "Group memberships",
        "offline_access": "Refresh tokens",
        # The custom authorization server's API scopes (idp/authserver.py).
        "mi.read": "Read MI Admin",
        "mi.write": "Change MI Admin",
    },
    # JWTs at the custom authorization server's token endpoint; refresh tokens stay opaque.
    "ACCESS_TOKEN_GENERATOR": "idp.authserver.access_token",
    "REFRESH_TOKEN_GENERATOR": "oauthlib.oauth2.rfc6749.tokens.random_token_generator",
    "DEFAULT_SCOPES": ["openid"],
    "PKCE_REQUIRED": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    # RFC 8252: loopback redirect URIs match on any port; extend that to "localhost" so the
    # relying party works on whatever port `make run` or the live test server picked.
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    # Like Okta: a valid id_token_hint for the signed-in person ends the session unprompted.
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "/static/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s idp %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("IDP_LOG_LEVEL", "INFO")},
}

"""MI Admin settings: one env-driven module.

Embedded defaults (SQLite, Celery's filesystem broker under ``var/``) make ``make run`` work
on a fresh machine; production sets ``DATABASE_URL``, ``REDIS_URL`` and the OIDC variables.
With ``DEBUG`` off, a missing secret or OIDC setting stops start-up with a message naming it.
Every variable is listed in README.md.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from mi_admin.accounts.okta import normalise_issuer, okta_endpoints

# Lets generic Django classes be subscripted at run time (ModelAdmin[Instance]) for mypy.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MI_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, *, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_required(name: str, dev_default: str) -> str:
    """A value production must set; the development default only applies with DEBUG on."""
    value = os.environ.get(name, "")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off (see README.md).")


DEBUG = env_bool("DEBUG")
TESTING = env_bool("MI_TESTING")

SECRET_KEY = env_required("SECRET_KEY", "dev-only-insecure-key-change-me-0123456789abcdefghij")
# Signs the audit trail's checkpoints. Never stored in the database (that is the point);
# development derives one from SECRET_KEY, production must set its own.
AUDIT_CHECKPOINT_KEY = env_required(
    "AUDIT_CHECKPOINT_KEY",
    hashlib.sha256(f"mi-admin-audit-checkpoint:{SECRET_KEY}".encode()).hexdigest(),
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    # django.contrib.admin, with a default site that audits every admin action
    "mi_admin.audit.apps.AuditedAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "mozilla_django_oidc",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "django_filters",
    "django_htmx",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mi_admin.accounts",
    "mi_admin.audit",
    "mi_admin.ui",
    "mi_admin.audit_pages",
    "mi_admin.approvals",
    "mi_admin.liveness",
    "mi_admin.api",
    "instances",
    "mi_requests",
    "health",
    "rollouts",
    "access",
]

MIDDLEWARE = [
    # /healthz and /readyz: before the HTTPS redirect and the Host check (a load balancer
    # probes the backend address over plain HTTP).
    "mi_admin.ui.probes.ProbeMiddleware",
    # Counts and times every other request (probes answered above are not traffic).
    "mi_admin.metrics.http.HttpMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # CSP everywhere; no-store once signed in (static files, served below, stay cacheable).
    "mi_admin.headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mi_admin.audit.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # The signed-in person's name on every log line of the request.
    "mi_admin.logs.LogUserMiddleware",
    "mi_admin.accounts.oidc.SessionRefreshMiddleware",
    "mi_admin.accounts.middleware.AuthorizationMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "mi_admin.urls"
WSGI_APPLICATION = "mi_admin.wsgi.application"

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
                "mi_admin.ui.context_processors.shell",
            ],
            # |when, the one way a page shows a time (mi_admin/ui/templatetags/times.py).
            "builtins": ["mi_admin.ui.templatetags.times", "mi_admin.ui.templatetags.spans"],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    # Persistent connections, checked before each request reuses one: a connection the
    # server or a proxy dropped is replaced instead of failing the request with a 500.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("CONN_MAX_AGE", 60),
            conn_health_checks=env_bool("CONN_HEALTH_CHECKS", default=True),
        )
    }
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # libpq waits for the OS's TCP timeout (minutes) on an unreachable host: /readyz,
        # the worker's watchdog and every request give up after this many seconds instead.
        DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int(
            "DB_CONNECT_TIMEOUT", 5
        )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "mi_admin.sqlite3"),
            # The web process, the worker and beat all write: WAL lets readers go on, and
            # IMMEDIATE transactions take the write lock up front, which keeps the audit
            # hash chain serial without PostgreSQL's advisory lock.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_BROKER_URL = REDIS_URL
    # A task a killed worker took is redelivered after the visibility timeout (an hour);
    # operations do not wait for that: their lease lapses and the dispatcher resumes them.
    # A short connect timeout keeps a request quick when Redis is down (the operation row is
    # kept and sent later).
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 3,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    # The filesystem transport ignores the host, but kombu warns on every connection when
    # the URL names none.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu's default is ./control, relative to wherever the process was started.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = False
# Publishing gives up quickly when the broker is down: the operation outbox sends it later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers and beat wait for the broker as long as it takes, instead of exiting.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
# Queues by role, so kinds of work cannot starve each other: a long rollout fills only
# `operations`, never delaying a health sweep (`probes`) or a page (`alerts`). Names derive
# from the base, so two deployments (or test runs) sharing a Redis never share a queue.
# Workers consume all of them unless told otherwise (scripts/entrypoint.py worker --queues).
MI_QUEUES: dict[str, str] = {
    "default": CELERY_TASK_DEFAULT_QUEUE,
    "probes": f"{CELERY_TASK_DEFAULT_QUEUE}.probes",
    "operations": f"{CELERY_TASK_DEFAULT_QUEUE}.operations",
    "alerts": f"{CELERY_TASK_DEFAULT_QUEUE}.alerts",
}
CELERY_TASK_QUEUES = [Queue(name, routing_key=name) for name in MI_QUEUES.values()]
# Every task's queue, chosen on purpose (tests/test_task_routes.py fails on a task missing
# here). probes: watching the fleet. operations: everything that runs or drives an
# Operation (its runners may wait minutes on GCP). alerts: messages to people and pagers.
# default: quick housekeeping sweeps, whose delay hurts nobody for a minute.
_TASK_ROLES: dict[str, tuple[str, ...]] = {
    "probes": (
        "health.tasks.health_sweep",
        "health.tasks.health_instance_refresh",
        "health.tasks.health_version_sla_check",
        # "The worker answered" means: the queue health depends on is being worked.
        "mi_admin.liveness.tasks.liveness_ping",
    ),
    "operations": (
        "instances.tasks.operation_run",
        "rollouts.tasks.rollouts_advance",
        "rollouts.tasks.rollouts_advance_after",
        "rollouts.tasks.rollout_advance_soon",
        "access.tasks.access_grant_activate_due",
        "access.tasks.access_grant_expire",
        "access.tasks.access_grants_sweep_task",
    ),
    "alerts": (
        "health.tasks.incident_deliver",
        "health.tasks.incident_redeliver",
        "instances.tasks.trial_notice_send",
        "access.tasks.access_grant_warn_task",
        "access.tasks.access_notification_deliver_task",
        "mi_admin.approvals.tasks.approval_slack_notify_task",
        "mi_admin.approvals.tasks.approval_slack_reply_task",
    ),
    "default": (
        # Sends what the broker lost: it must not wait behind the operations it re-sends.
        "instances.tasks.operation_dispatch_pending",
        # Reads GCP, can take minutes with a slow API: not in front of the health sweep.
        "instances.tasks.inventory_sync_fleet",
        "instances.tasks.trials_check",
        "health.tasks.health_prune_samples",
        "mi_admin.audit.tasks.audit_checkpoint",
        "mi_admin.audit.tasks.audit_failures_fold_task",
        "mi_admin.approvals.tasks.approval_requests_expire_task",
        "mi_requests.tasks.requests_tick",
    ),
}
CELERY_TASK_ROUTES = {
    task: {"queue": MI_QUEUES[role]} for role, tasks in _TASK_ROLES.items() for task in tasks
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 660)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Task state lives in our own Operation rows; a result backend would be a second truth.
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Beat's schedule; django-celery-beat copies it into the database, where Admins can change it.
CELERY_BEAT_SCHEDULE = {
    "operation-dispatch": {
        "task": "instances.tasks.operation_dispatch_pending",
        "schedule": float(env_int("OPERATION_DISPATCH_SECONDS", 30)),
        "options": {"expires": float(env_int("OPERATION_DISPATCH_SECONDS", 30))},
    },
    "inventory-sync": {
        "task": "instances.tasks.inventory_sync_fleet",
        "schedule": float(env_int("INVENTORY_SYNC_SECONDS", 300)),
    },
    "health-sweep": {
        "task": "health.tasks.health_sweep",
        "schedule": float(env_int("HEALTH_SWEEP_SECONDS", 60)),
    },
    "health-version-sla": {"task": "health.tasks.health_version_sla_check", "schedule": 3600.0},
    "health-prune-samples": {"task": "health.tasks.health_prune_samples", "schedule": 86400.0},
    "health-redeliver-alerts": {"task": "health.tasks.incident_redeliver", "schedule": 300.0},
    "audit-checkpoint": {
        "task": "mi_admin.audit.tasks.audit_checkpoint",
        "schedule": float(env_int("AUDIT_CHECKPOINT_SECONDS", 3600)),
    },
    "audit-fold-failures": {
        "task": "mi_admin.audit.tasks.audit_failures_fold_task",
        "schedule": 60.0,
    },
    "rollouts-advance": {
        "task": "rollouts.tasks.rollouts_advance",
        "schedule": float(env_int("ROLLOUT_ADVANCE_SECONDS", 15)),
        "options": {"expires": float(env_int("ROLLOUT_ADVANCE_SECONDS", 15))},
    },
    "approvals-expire": {
        "task": "mi_admin.approvals.tasks.approval_requests_expire_task",
        "schedule": 60.0,
    },
    # Requests: finished operations whose hook was lost, SLA warnings and pages (once each).
    "requests-tick": {"task": "mi_requests.tasks.requests_tick", "schedule": 60.0},
    # Ends access grants past their expiry even when the eta'd task was lost.
    "access-grants-sweep": {
        "task": "access.tasks.access_grants_sweep_task",
        "schedule": 60.0,
    },
    # Trials: ask the owning CE 5 working days before the end, page DevOps after it; and
    # send again the notices an outage left unsent.
    "instances-trials-check": {"task": "instances.tasks.trials_check", "schedule": 3600.0},
}
INVENTORY_SYNC_CONCURRENCY = env_int("INVENTORY_SYNC_CONCURRENCY", 8)
# Operations (instances/services/operations.py): a worker's lease, renewed every third of it;
# an operation whose lease lapsed is resumed at the next dispatch (lease + dispatch interval
# bounds how long a killed worker's operation waits). An operation sent but never claimed
# is sent again after OPERATION_REDISPATCH_SECONDS.
OPERATION_LEASE_SECONDS = env_int("OPERATION_LEASE_SECONDS", 60)
OPERATION_REDISPATCH_SECONDS = env_int("OPERATION_REDISPATCH_SECONDS", 120)
# Transient GCP errors are retried with exponential backoff (base doubling up to the max)
# for this long after the first one, enough to ride out a regional blip; then it fails.
OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS = env_int(
    "OPERATION_TRANSIENT_RETRY_BUDGET_SECONDS", 20 * 60
)
OPERATION_RETRY_BASE_SECONDS = float(env_str("OPERATION_RETRY_BASE_SECONDS", "5"))
OPERATION_RETRY_MAX_SECONDS = float(env_str("OPERATION_RETRY_MAX_SECONDS", "120"))
# Upgrades (instances/runners/upgrade.py): at most UPGRADE_CONCURRENCY run fleet-wide (one
# numbered slot each, a unique index); an upgrade without a free slot waits, asking again
# every UPGRADE_SLOT_WAIT_SECONDS. After the version metadata is set, the instance must report
# the target and answer healthy within UPGRADE_PROGRESS_DEADLINE_SECONDS, then stay healthy
# for UPGRADE_STABILITY_SECONDS (probed every UPGRADE_POLL_SECONDS), or it is rolled back.
UPGRADE_CONCURRENCY = env_int("UPGRADE_CONCURRENCY", 5)
UPGRADE_STABILITY_SECONDS = float(env_str("UPGRADE_STABILITY_SECONDS", "300"))
UPGRADE_PROGRESS_DEADLINE_SECONDS = float(env_str("UPGRADE_PROGRESS_DEADLINE_SECONDS", "600"))
UPGRADE_POLL_SECONDS = float(env_str("UPGRADE_POLL_SECONDS", "10"))
UPGRADE_SLOT_WAIT_SECONDS = float(env_str("UPGRADE_SLOT_WAIT_SECONDS", "15"))
UPGRADE_PROBE_TIMEOUT = float(env_str("UPGRADE_PROBE_TIMEOUT", "5"))
# Lifecycle (instances/runners/lifecycle.py): a resumed instance must answer /healthz within
# RESUME_HEALTH_DEADLINE_SECONDS of its VM start, probed every RESUME_POLL_SECONDS; a teardown
# waits TEARDOWN_COUNTDOWN_SECONDS (the seed's one-hour warning) before anything is deleted,
# and can be cancelled until then.
RESUME_HEALTH_DEADLINE_SECONDS = float(env_str("RESUME_HEALTH_DEADLINE_SECONDS", "600"))
RESUME_POLL_SECONDS = float(env_str("RESUME_POLL_SECONDS", "10"))
TEARDOWN_COUNTDOWN_SECONDS = float(env_str("TEARDOWN_COUNTDOWN_SECONDS", "3600"))
# Health probes (the health app): see health/conf.py.
HEALTH_SWEEP_SECONDS = env_int("HEALTH_SWEEP_SECONDS", 60)
HEALTH_PROBE_CONCURRENCY = env_int("HEALTH_PROBE_CONCURRENCY", 100)
HEALTH_PROBE_TIMEOUT = float(env_str("HEALTH_PROBE_TIMEOUT", "5"))
HEALTH_SLOW_MS = env_int("HEALTH_SLOW_MS", 2000)
HEALTH_DOWN_AFTER = env_int("HEALTH_DOWN_AFTER", 3)
HEALTH_UP_AFTER = env_int("HEALTH_UP_AFTER", 2)
HEALTH_FLAP_FLIPS = env_int("HEALTH_FLAP_FLIPS", 3)
HEALTH_STALE_SECONDS = env_int("HEALTH_STALE_SECONDS", 300)
HEALTH_SAMPLE_RETENTION_DAYS = env_int("HEALTH_SAMPLE_RETENTION_DAYS", 35)
# The longest one-off maintenance window (it mutes the instance's alerts meanwhile).
MAINTENANCE_WINDOW_MAX_DAYS = env_int("MAINTENANCE_WINDOW_MAX_DAYS", 7)
# The monthly uptime report (health/selectors/monthly.py): the uptime SLA target in percent,
# and the planned-maintenance hours each instance may use per calendar quarter.
UPTIME_SLA_TARGET_PCT = float(env_str("UPTIME_SLA_TARGET_PCT", "99.5"))
UPTIME_MAINTENANCE_ALLOWANCE_HOURS_PER_QUARTER = float(
    env_str("UPTIME_MAINTENANCE_ALLOWANCE_HOURS_PER_QUARTER", "10")
)

# --- Authentication: Okta through OIDC, break-glass local accounts --------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/?logged_out=1"

BREAK_GLASS_ENABLED = env_bool("BREAK_GLASS_ENABLED")
AUTHENTICATION_BACKENDS = [
    "mi_admin.accounts.oidc.OktaAuthenticationBackend",
    "mi_admin.accounts.backends.RolePermissionBackend",
]
if BREAK_GLASS_ENABLED:
    # allauth's password check, answering only inside the break-glass sign-in (which then
    # demands TOTP), never to Django admin's login form or other authenticate() callers.
    AUTHENTICATION_BACKENDS.append("mi_admin.accounts.breakglass.BreakGlassAuthenticationBackend")

OIDC_ISSUER = normalise_issuer(env_required("OIDC_ISSUER", "http://127.0.0.1:8001/o"))
OIDC_RP_CLIENT_ID = env_required("OIDC_RP_CLIENT_ID", "mi-admin")
OIDC_RP_CLIENT_SECRET = env_required("OIDC_RP_CLIENT_SECRET", "mi-admin-dev-secret")
# Okta's endpoints hang off the issuer (mi_admin/accounts/okta.py). Each one can be set on its
# own, which is how the local provider of `make run` and the tests is wired.
_okta_endpoints = okta_endpoints(OIDC_ISSUER)
OIDC_OP_AUTHORIZATION_ENDPOINT = (
    env_str("OIDC_OP_AUTHORIZATION_ENDPOINT") or _okta_endpoints["OIDC_OP_AUTHORIZATION_ENDPOINT"]
)
OIDC_OP_TOKEN_ENDPOINT = (
    env_str("OIDC_OP_TOKEN_ENDPOINT") or _okta_endpoints["OIDC_OP_TOKEN_ENDPOINT"]
)
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT") or _okta_endpoints["OIDC_OP_USER_ENDPOINT"]
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT") or _okta_endpoints["OIDC_OP_JWKS_ENDPOINT"]
OIDC_OP_LOGOUT_ENDPOINT = (
    env_str("OIDC_OP_LOGOUT_ENDPOINT") or _okta_endpoints["OIDC_OP_LOGOUT_ENDPOINT"]
)
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid email profile groups"
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_STORE_ID_TOKEN = True
OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS = env_int("OIDC_RENEW_ID_TOKEN_EXPIRY_SECONDS", 15 * 60)
# Seconds for each call to Okta (token, userinfo, JWKS); mozilla's default is to wait forever.
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT", 10)
OIDC_OP_LOGOUT_URL_METHOD = "mi_admin.accounts.oidc.provider_logout_url"
OIDC_CALLBACK_CLASS = "mi_admin.accounts.oidc.OktaCallbackView"
OIDC_AUTHENTICATE_CLASS = "mi_admin.accounts.oidc.OktaAuthenticationRequestView"
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
# Okta group name → Django group (role). Okta names differ per org, so each is configurable.
OIDC_ROLE_GROUPS = {
    "mi-devops": env_str("OKTA_GROUP_DEVOPS", "mi-devops"),
    "mi-managers": env_str("OKTA_GROUP_MANAGERS", "mi-managers"),
    "mi-ce": env_str("OKTA_GROUP_CE", "mi-ce"),
    "mi-admins": env_str("OKTA_GROUP_ADMINS", "mi-admins"),
}
# Okta's management API (site-admin grants add and remove group members): the org URL
# (https://<org>.okta.com) and an API token (sent as "SSWS <token>"); the local IdP in
# `make run` and the tests. Empty: site-admin grants fail, saying so.
OKTA_ORG_URL = env_str("OKTA_ORG_URL")
OKTA_API_TOKEN = env_str("OKTA_API_TOKEN")
OKTA_TIMEOUT = float(env_str("OKTA_TIMEOUT", "10"))
ACCESS_HELP_CONTACT = env_str(
    "ACCESS_HELP_CONTACT", "your manager, who can request the Okta group in #it-tech-ops"
)

# --- The JSON API (/api/v1/, mi_admin/api/) ---------------------------------------------------
# Okta access tokens from the organisation's custom authorization server (README, "API"):
# its issuer (https://<org>.okta.com/oauth2/<server id>), the audience set on that server,
# and its keys (<issuer>/v1/keys). The default is the local IdP's server "default".
API_TOKEN_ISSUER = env_str("API_TOKEN_ISSUER", f"{OIDC_ISSUER}/oauth2/default").rstrip("/")
API_TOKEN_AUDIENCE = env_str("API_TOKEN_AUDIENCE", "api://mi-admin")
API_TOKEN_JWKS_URL = env_str("API_TOKEN_JWKS_URL", f"{API_TOKEN_ISSUER}/v1/keys")
API_TOKEN_ALGORITHMS = ["RS256"]
API_TOKEN_LEEWAY_SECONDS = env_int("API_TOKEN_LEEWAY_SECONDS", 30)
# Okta's custom servers put the login in `sub` and the user id (the id_token's sub) in `uid`.
API_TOKEN_USER_ID_CLAIM = env_str("API_TOKEN_USER_ID_CLAIM", "uid")
API_JWKS_MAX_AGE_SECONDS = env_int("API_JWKS_MAX_AGE_SECONDS", 3600)
# An unknown kid reads the JWKS again, at most this often.
API_JWKS_MIN_REFRESH_SECONDS = env_int("API_JWKS_MIN_REFRESH_SECONDS", 30)
API_READ_SCOPE = env_str("API_READ_SCOPE", "mi.read")
API_WRITE_SCOPE = env_str("API_WRITE_SCOPE", "mi.write")
# Machine clients (client-credentials tokens): "client id:role group" pairs, e.g.
# "0oa1ci2bot:mi-devops,0oa3chat:mi-ce". A client not listed is refused.
API_MACHINE_CLIENTS: dict[str, str] = {
    client.strip(): role.strip()
    for client, _, role in (
        pair.partition(":") for pair in env_list("API_MACHINE_CLIENTS", "mi-ci:mi-devops")
    )
    if client.strip() and role.strip() in OIDC_ROLE_GROUPS
}
API_THROTTLE_RATE = env_str("API_THROTTLE_RATE", "1200/min")
API_ANON_THROTTLE_RATE = env_str("API_ANON_THROTTLE_RATE", "120/min")
API_IDEMPOTENCY_TTL_SECONDS = env_int("API_IDEMPOTENCY_TTL_SECONDS", 24 * 3600)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # First: its WWW-Authenticate makes an unauthenticated call a 401.
        "mi_admin.api.authentication.OktaBearerAuthentication",
        "mi_admin.api.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["mi_admin.api.permissions.RolePermission"],
    "DEFAULT_THROTTLE_CLASSES": [
        "mi_admin.api.throttling.ApiUserThrottle",
        "mi_admin.api.throttling.ApiAnonThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "mi_admin.api.pagination.ApiCursorPagination",
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "mi_admin.api.problems.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MI Admin API",
    "DESCRIPTION": "The fleet, its releases and operations, access grants, approvals and "
    "the audit trail. Okta bearer tokens (scopes "
    "mi.read, mi.write) or the browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs follow the API's rules (any role), not drf-spectacular's AllowAny.
    "SERVE_PERMISSIONS": ["mi_admin.api.permissions.RolePermission"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "mi_admin.api.schema.add_problem_responses",
        "mi_admin.api.schema.text_parameters_without_nul",
    ],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Swagger UI's files from drf-spectacular-sidecar (static/), never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "InstanceKind": "instances.choices.InstanceKind",
        "InstanceState": "instances.choices.LifecycleState",
        "OperationKind": "instances.choices.OperationKind",
        "OperationState": "instances.choices.OperationState",
        "ReleaseKind": "instances.choices.ReleaseKind",
        "StepState": "instances.choices.StepState",
        "GrantState": "access.choices.GrantState",
        "ApprovalState": "mi_admin.approvals.choices.RequestState",
        "Decision": "mi_admin.approvals.choices.Decision",
        "RolloutState": "rollouts.models.RolloutState",
        "RolloutTargetState": "rollouts.models.TargetState",
        "RequestKind": "mi_requests.choices.RequestKind",
        "RequestState": "mi_requests.choices.RequestState",
        "IncidentCause": "health.choices.IncidentCause",
        "IncidentState": "health.choices.IncidentState",
    },
}

# django-allauth: break-glass only. No sign-up, username login, TOTP mandatory (enforced in
# mi_admin.accounts.breakglass).
ACCOUNT_ADAPTER = "mi_admin.accounts.breakglass.BreakGlassAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
MFA_SUPPORTED_TYPES = ["totp"]
MFA_ADAPTER = "mi_admin.accounts.breakglass.BreakGlassMFAAdapter"
# Fernet key(s) encrypting TOTP secrets at rest (mi_admin/accounts/mfa_crypto.py).
MFA_ENCRYPTION_KEY = env_str("MFA_ENCRYPTION_KEY")
if BREAK_GLASS_ENABLED and not DEBUG and not MFA_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "MFA_ENCRYPTION_KEY must be set when BREAK_GLASS_ENABLED is on (see README.md)."
    )
# Failed break-glass sign-ins: `login_failed` counts per address and per (account, address)
# (the adapter makes the key the username plus the address); `login_failed_account` counts
# an account's failures from everywhere. One address can fail at most 60 times an hour, so
# it alone cannot reach the per-account limit and lock the operator out.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("BREAK_GLASS_FAILED_LIMIT", "10/m/ip,5/5m/key"),
    "login_failed_account": env_str("BREAK_GLASS_ACCOUNT_FAILED_LIMIT", "100/1h/key"),
}
MFA_TOTP_ISSUER = "MI Admin break-glass"

SESSION_COOKIE_NAME = "mi_admin_sessionid"
CSRF_COOKIE_NAME = "mi_admin_csrftoken"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 14},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- Production hardening (manage.py check --deploy is clean with DEBUG off) ----------------
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if env_bool("SECURE_PROXY_SSL_HEADER"):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
# Seconds /readyz waits for the database and the broker.
READYZ_TIMEOUT = float(env_str("READYZ_TIMEOUT", "2"))
# Who watches the watcher (mi_admin/liveness). Each worker's watchdog thread queues a ping
# and checks the sweep every LIVENESS_CHECK_SECONDS; no successful LIVENESS_WATCHED_TASK
# for LIVENESS_MISSED_INTERVALS of its beat intervals raises one alert through the alert
# integrations (cleared with a recovery message when sweeps resume). The dashboard flags
# any periodic task overdue by the same rule. After each sweep, HEARTBEAT_URL (a
# healthchecks.io-style ping URL; empty = off) gets a POST, or <url>/fail when it raised.
LIVENESS_CHECK_SECONDS = float(env_str("LIVENESS_CHECK_SECONDS", "30"))
LIVENESS_MISSED_INTERVALS = env_int("LIVENESS_MISSED_INTERVALS", 3)
LIVENESS_WATCHED_TASK = env_str("LIVENESS_WATCHED_TASK", "health.tasks.health_sweep")
HEARTBEAT_URL = env_str("HEARTBEAT_URL")
HEARTBEAT_TIMEOUT = float(env_str("HEARTBEAT_TIMEOUT", "5"))

# Who may tell us the client's address in X-Forwarded-For (mi_admin/http.py): the number of
# proxies in front of gunicorn, and/or the networks they send from. Neither: the header is
# ignored. The audit trail and allauth's rate limits (through the break-glass adapter) read it.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
TRUSTED_PROXY_NETWORKS = env_list("TRUSTED_PROXY_NETWORKS")
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more (see README.md).")
for _network in TRUSTED_PROXY_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXY_NETWORKS: {_network!r} is not a network ({_exc})."
        ) from _exc
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- i18n, static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
# The zone every page shows times in (named next to each; UTC on hover). Storage, logs and
# CSV exports stay UTC.
DISPLAY_TIME_ZONE = env_str("DISPLAY_TIME_ZONE", "UTC")
try:
    ZoneInfo(DISPLAY_TIME_ZONE)
except (ZoneInfoNotFoundError, ValueError) as _exc:
    raise ImproperlyConfigured(
        f"DISPLAY_TIME_ZONE={DISPLAY_TIME_ZONE!r} is not a time zone name (e.g. Europe/Berlin)."
    ) from _exc
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served by WhiteNoise in production from collectstatic's output; straight from the
# source folders while developing and testing.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- GCP --------------------------------------------------------------------------------------
# Empty endpoint: Google's API with Application Default Credentials.
GCP_COMPUTE_ENDPOINT = env_str("GCP_COMPUTE_ENDPOINT", "http://127.0.0.1:8790" if DEBUG else "")
GCP_ANONYMOUS_CREDENTIALS = env_bool("GCP_ANONYMOUS_CREDENTIALS", default=DEBUG)
GCP_OPERATION_TIMEOUT = env_int("GCP_OPERATION_TIMEOUT", 300)
GCP_READ_RETRIES = env_int("GCP_READ_RETRIES", 3)
GCP_REQUEST_TIMEOUT = float(env_str("GCP_REQUEST_TIMEOUT", "60"))
GCP_RETRY_BASE_DELAY = float(env_str("GCP_RETRY_BASE_DELAY", "0.5"))
FLEETSIM_URL = env_str("FLEETSIM_URL", "http://127.0.0.1:8790" if DEBUG else "")

# --- SLAs and alerts --------------------------------------------------------------------------
SLA_TIMEZONE = env_str("SLA_TIMEZONE", "UTC")
SLA_HOLIDAY_COUNTRY = env_str("SLA_HOLIDAY_COUNTRY", "US")
SLA_HOLIDAY_SUBDIV = env_str("SLA_HOLIDAY_SUBDIV") or None
SLA_EXTRA_HOLIDAYS = env_list("SLA_EXTRA_HOLIDAYS")
PAGERDUTY_ROUTING_KEY = env_str("PAGERDUTY_ROUTING_KEY")
PAGERDUTY_EVENTS_URL = env_str("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com/v2/enqueue")
OPSGENIE_API_KEY = env_str("OPSGENIE_API_KEY")
OPSGENIE_API_URL = env_str("OPSGENIE_API_URL", "https://api.opsgenie.com")
SLACK_WEBHOOK_URL = env_str("SLACK_WEBHOOK_URL")
# Approve/Deny buttons in Slack (opt-in): the interactivity endpoint answers 404 while off.
SLACK_APPROVALS_ENABLED = env_bool("SLACK_APPROVALS_ENABLED")
SLACK_SIGNING_SECRET = env_str("SLACK_SIGNING_SECRET")
ALERT_HTTP_TIMEOUT = float(env_str("ALERT_HTTP_TIMEOUT", "10"))
# Slack posts a button press's answer to the payload's response_url; we POST only to these
# origins (scheme://host[:port]), so a forged payload cannot point us anywhere else.
SLACK_RESPONSE_URL_ORIGINS = env_list("SLACK_RESPONSE_URL_ORIGINS", "https://hooks.slack.com")
# Where a grant's holder hears its decision, the 10-minute warning and its end (Slack
# incoming webhook; the holder is @-mentioned when their Slack id is known). Defaults to the
# alerts webhook; empty: the messages are recorded, not posted.
ACCESS_SLACK_WEBHOOK_URL = env_str("ACCESS_SLACK_WEBHOOK_URL") or SLACK_WEBHOOK_URL

# --- Metrics (mi_admin/metrics) --------------------------------------------------------------
# /metrics answers a scraper sending "Authorization: Bearer <METRICS_TOKEN>" or one whose
# address (mi_admin/http.py client_ip) is inside METRICS_ALLOWED_NETWORKS; nobody else.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS")
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_NETWORKS: {_network!r} is not a network ({_exc})."
        ) from _exc

# --- Logging ----------------------------------------------------------------------------------
# json: one JSON object per line (python-json-logger) with timestamp, level, logger, message,
# request_id, user, and in tasks task_name, task_id, operation_id (mi_admin/logs.py). plain:
# the same fields as text, for a developer's terminal. Default: plain with DEBUG (make run),
# json otherwise (production, compose, the tests' worker).
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "mi_admin.logs.LogContextFilter"}},
    "formatters": {
        "plain": {"()": "mi_admin.logs.PlainFormatter"},
        "json": {"()": "mi_admin.logs.json_formatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

"""Test settings: the real settings module, fed the environment the test suite runs in.

Only environment defaults live here (real PostgreSQL and Redis on this machine); values
from the caller's environment win, so CI or a developer can point elsewhere.
"""

import os
import uuid

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/mi_admin")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("AUDIT_CHECKPOINT_KEY", "test-audit-checkpoint-key-not-for-production")
os.environ.setdefault("MI_TESTING", "1")
# A queue of this run's own: the worker the tests start inherits it, and two runs sharing
# the Redis database never take each other's tasks.
os.environ.setdefault("CELERY_QUEUE", f"mi-admin-tests-{uuid.uuid4().hex[:12]}")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
# The local provider's real endpoints are set per test session by tests/fixtures/idp.py;
# these placeholders only satisfy start-up.
os.environ.setdefault("OIDC_ISSUER", "http://127.0.0.1:1/o")
os.environ.setdefault("OIDC_RP_CLIENT_ID", "mi-admin")
os.environ.setdefault("OIDC_RP_CLIENT_SECRET", "mi-admin-test-secret")
# Playwright runs an event loop in the test thread; Django's ORM is still used synchronously.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# Fewer upgrade slots than the test worker has threads, so the fleet-wide limit (not the
# worker's size) is what holds upgrades back; waiting ones ask again quickly.
os.environ.setdefault("UPGRADE_CONCURRENCY", "2")
os.environ.setdefault("UPGRADE_SLOT_WAIT_SECONDS", "0.3")
os.environ.setdefault("UPGRADE_POLL_SECONDS", "0.2")
# Lifecycle: a short teardown countdown and quick probing of a resumed instance.
os.environ.setdefault("TEARDOWN_COUNTDOWN_SECONDS", "2")
os.environ.setdefault("RESUME_POLL_SECONDS", "0.2")
os.environ.setdefault("RESUME_HEALTH_DEADLINE_SECONDS", "30")

# Workers' liveness watchdog (mi_admin/liveness): quiet in the session worker, so no missed-
# sweep alert or audit event appears behind a test's back; tests/faults/test_watcher.py sets
# its own.
os.environ.setdefault("LIVENESS_CHECK_SECONDS", "3600")

from mi_admin.settings import *  # noqa: F403

# Cookies marked Secure would not be sent over http:// to the live test server.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Django's flush between transactional tests TRUNCATEs every table; the audit tables' trigger
# refuses that unless the session says otherwise (mi_admin/audit/migrations/0004).
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c mi_audit.allow_truncate=on"  # noqa: F405

"""Settings for the test suite: real PostgreSQL and Redis, in-memory email, fast hashing."""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SITE_SCHEME", "http")
os.environ.setdefault("AUDIT_HMAC_KEY", "test-only-audit-hmac-key")

from .base import *  # noqa: F403
from .base import BASE_DIR, CACHES, DATABASES, REDIS_URL, backups_storage, uploads_storages

# Parallel checkouts (and helpers) can each use their own test database; pytest-xdist's
# workers (gw0, gw1, ...) each get a database (pytest-django adds "_gw0"), a folder of
# files and a Redis database of their own.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DB_NAME", "test_atrium")}
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
_RUN = DATABASES["default"]["TEST"]["NAME"] + (f"_{_WORKER}" if _WORKER else "")

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Links in emails and pages carry no port, whatever `make run` exported (SITE_PORT): the
# tests that serve on a port set it themselves.
SITE_PORT = ""
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Filesystem by default; tests/uploads switches to S3 (moto server) per test.
    **uploads_storages(
        bucket="",
        root=BASE_DIR / "var" / "test-media" / _RUN,
    ),
    "backups": backups_storage(
        bucket="",
        root=BASE_DIR / "var" / "test-backups" / _RUN,
    ),
    "offboarding_exports": backups_storage(
        bucket="",
        root=BASE_DIR / "var" / "test-exports" / _RUN,
    ),
}
# A fixed test key (32 zero-free bytes, base64); production requires its own.
BACKUP_ENCRYPTION_KEY = "dGVzdC1vbmx5LWJhY2t1cC1rZXktMzItYnl0ZXMhISE="
# Separate Redis database so a test run never touches a dev server's keys.
# A worker counts down from it (gw0: 15, gw1: 14, ...; `make test` runs at most 8).
_redis_server, _first_db = os.environ.get(
    "TEST_REDIS_URL", REDIS_URL.rsplit("/", 1)[0] + "/15"
).rsplit("/", 1)
_TEST_REDIS = f"{_redis_server}/{int(_first_db) - int(_WORKER.removeprefix('gw') or 0)}"
REDIS_URL = _TEST_REDIS  # what uses Redis without a cache (billing's dispatch flag)
for _alias in CACHES:
    CACHES[_alias]["LOCATION"] = _TEST_REDIS
CELERY_BROKER_URL = _TEST_REDIS
CELERY_TASK_ALWAYS_EAGER = True
# Billing against the local Stripe emulator (deploy/local/services.sh starts it).
STRIPE_SECRET_KEY = "sk_test_emulator"  # noqa: S105 - the emulator takes any sk_ key
STRIPE_PUBLISHABLE_KEY = "pk_test_emulator"
STRIPE_WEBHOOK_SECRET = "whsec_test_only"  # noqa: S105 - the tests sign with it
STRIPE_API_BASE = f"http://127.0.0.1:{os.environ.get('STRIPE_EMULATOR_PORT', '12111')}"
STRIPE_JS_URL = f"{STRIPE_API_BASE}/js.stripe.com/v3/"
TENANT_SPARE_POOL_SIZE = 2

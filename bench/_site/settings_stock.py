"""Stock django-tenants routing, for comparison: its own middleware (a domain query per
request) and its default of one ``SET search_path`` per cursor."""

import warnings

from config.settings.base import *  # noqa: F403
from config.settings.base import MIDDLEWARE

MIDDLEWARE = [
    "django_tenants.middleware.main.TenantMainMiddleware"
    if m == "tenants.middleware.TenantRoutingMiddleware"
    else m
    for m in MIDDLEWARE
]
TENANT_LIMIT_SET_CALLS = False
ROOT_URLCONF = "_site.urls"
PUBLIC_SCHEMA_URLCONF = "_site.urls"

# No collected static files in a benchmark checkout; WhiteNoise need not say so.
warnings.filterwarnings("ignore", message="No directory at")

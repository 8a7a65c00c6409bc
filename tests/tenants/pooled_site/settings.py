"""The test settings, with the probe views as the tenant and public URLConf and the
probe task imported by the worker. ``DATABASE_URL`` and ``DATABASE_POOLING`` come from
the test that starts the processes."""

import warnings

from config.settings.test import *  # noqa: F403

ROOT_URLCONF = "tests.tenants.pooled_site.urls"
PUBLIC_SCHEMA_URLCONF = "tests.tenants.pooled_site.urls"
CELERY_IMPORTS = ["tests.tenants.pooled_site.tasks"]
CELERY_TASK_ALWAYS_EAGER = False

warnings.filterwarnings("ignore", message="No directory at")

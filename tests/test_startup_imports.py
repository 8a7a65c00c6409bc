"""A web or worker process does not load what only some requests need.

The uploads benchmark holds both processes under 100 MB RSS; these imports are what took
them over it after the billing, console and API merges (uploads/README.md). Each is
loaded by the first request or task that needs it instead.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAVY = (
    "stripe",
    "rest_framework.views",
    "drf_spectacular.openapi",
    "django.test",
    "sentry_sdk",
    # cryptography's primitives: backups' encryption imports them by its first use.
    "cryptography.hazmat",
    # The exports page's views and services, by its first request (offboarding.urls).
    "offboarding.views",
    "backups.services",
)

PROBE = """
import json, sys
import django
django.setup()
if sys.argv[1] == "web":
    from django.core.wsgi import get_wsgi_application
    from django.template import engines
    from django.urls import get_resolver
    get_wsgi_application()
    get_resolver("config.urls_tenant").url_patterns
    engines["django"].engine.template_libraries
else:
    from config.celery import app
    app.loader.import_default_modules()
print(json.dumps(sorted(m for m in sys.modules if m in sys.argv[2:])))
"""


def loaded(kind: str, **env: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, kind, *HEAVY],
        cwd=ROOT,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "platform")]),
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": "startup-imports-test",
            "AUDIT_HMAC_KEY": "startup-imports-test",
            "SENTRY_DSN": "",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_web_process_serving_pages_has_not_loaded_stripe_the_api_or_the_test_client():
    assert loaded("web") == []


def test_a_worker_has_not_loaded_them_either():
    # What python -m config.worker sets before Celery's Django fixup runs.
    assert loaded("worker", CELERY_SKIP_CHECKS="1") == []

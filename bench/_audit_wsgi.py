"""WSGI app of ``bench/audit.py``: the real application, served by gunicorn.

With ``AUDIT_BENCH_RECORD=off`` the only difference is that ``audit.services.record``
does nothing, so the two servers run the same view, the same service and the same
change, with and without its audit event. Seals go to the Celery broker (Redis),
as in production, rather than running inline.
"""

import os

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from django.conf import settings  # noqa: E402

from config.celery import app as celery_app  # noqa: E402

settings.CELERY_TASK_ALWAYS_EAGER = False
celery_app.conf.task_always_eager = False

if os.environ.get("AUDIT_BENCH_RECORD") == "off":
    import audit.services

    audit.services.record = lambda *args, **kwargs: None

"""gunicorn settings for production (``gunicorn -c deploy/gunicorn.conf.py config.wsgi``)."""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
# Recycle workers now and then so a slow leak never becomes an outage.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
# No query strings in access logs: tokens travel in a few of our URLs.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss "%(a)s"'

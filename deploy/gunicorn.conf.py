"""gunicorn settings for production (``gunicorn -c deploy/gunicorn.conf.py config.wsgi``)."""

import gc
import multiprocessing
import os
import shutil
import tempfile

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
# Recycle workers now and then so a slow leak never becomes an outage.
max_requests = 2000
max_requests_jitter = 200
# The app is imported once, by the master, and every worker (a recycled one too) is
# forked from it: a worker shares the master's memory until it writes to it, and
# pre_fork below keeps the collector from writing to it. Measured with one worker
# replaying bench/uploads.py's requests: peak RSS 95.4 -> 91.5 MB, memory of its own
# (USS) 77.3 -> 58.6 MB. A HUP reloads this file, not the preloaded code: deploy by
# restarting (containers are replaced anyway).
preload_app = True
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# No access log: the app writes one JSON line per request (config.middleware), with
# its request id and without query strings or the tokens some paths carry.
accesslog = None
# gunicorn's own lines (boot, worker exits, timeouts) as JSON on stdout too.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.logs.JsonFormatter"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout",
                   "formatter": "json"},
    },
    "root": {"handlers": ["stdout"], "level": "INFO"},
    "loggers": {"gunicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False}},
}  # fmt: skip

# Prometheus: every worker counts its requests in files under this folder, and
# /metrics, whichever worker answers it, adds them all up (prometheus-client's
# multiprocess mode). Emptied when gunicorn starts; a dead worker's files are merged.
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "atrium-prometheus")
)


def on_starting(server):
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def pre_fork(server, worker):
    # Nothing opens a database connection at import; were one open, every worker would
    # share its socket.
    from django.db import connections

    connections.close_all()
    # The master's objects (the modules, the app) leave the collector's generations: a
    # worker's collections then never write to their headers, so those pages stay
    # shared instead of being copied into every worker.
    gc.freeze()

"""deploy/gunicorn.conf.py forks its workers from a preloaded app whose objects are
frozen out of the collector (shared memory, bench/uploads.py), and no worker inherits
a database connection of the master's."""

import json
import os
import subprocess
import sys

from django.conf import settings

# A master's part, in a process of its own: load the app, hold a connection, fork-ready.
MASTER = """
import gc, json, runpy
import django
django.setup()
from django.db import connection
conf = runpy.run_path("deploy/gunicorn.conf.py")
connection.ensure_connection()
held = connection.connection is not None
conf["pre_fork"](None, None)
print(json.dumps({"preload_app": conf["preload_app"], "held": held,
                  "closed": connection.connection is None, "frozen": gc.get_freeze_count()}))
"""


def test_workers_fork_from_a_preloaded_app_frozen_and_without_a_connection(tmp_path):
    root = settings.BASE_DIR
    env = {
        **os.environ,
        "PYTHONPATH": f"{root}{os.pathsep}{root / 'platform'}",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    out = subprocess.run(
        [sys.executable, "-c", MASTER], cwd=root, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["preload_app"] is True
    assert result["held"] and result["closed"]
    assert result["frozen"] > 10_000  # the app's objects, out of the collector's reach

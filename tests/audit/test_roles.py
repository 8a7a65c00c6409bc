"""Production role separation: a role that does not own the audit tables, set up
exactly as ``manage.py audit_db_roles`` prints, can read and append but can neither
change, delete nor truncate events, nor disable or replace the triggers."""

import io
import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

import audit.services as audit
from audit.services import seal_chain, verify_chain
from core.principal import SYSTEM


def _sql(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else None


@pytest.fixture
def roles(db):
    """An owner, an app and a retention role, created in the test's transaction
    (rolled back with it); the test's own role may switch to each."""
    if not _sql("SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user")[0]:
        pytest.fail("the test role needs CREATEROLE (deploy/local/services.sh grants it)")
    suffix = uuid.uuid4().hex[:10]
    names = {kind: f"audit_{kind}_{suffix}" for kind in ("owner", "app", "retention")}
    for kind, name in names.items():
        _sql(f"CREATE ROLE {name} NOLOGIN")
        # The test's role runs the script as the owner would (inheriting its rights).
        inherit = "TRUE" if kind == "owner" else "FALSE"
        _sql(f"GRANT {name} TO current_user WITH SET TRUE, INHERIT {inherit}")
    out = io.StringIO()
    call_command("audit_db_roles", owner=names["owner"], app=names["app"],
                 retention=names["retention"], stdout=out)  # fmt: skip
    for statement in out.getvalue().split(";\n"):
        _sql(statement.rstrip(";"))
    yield names
    _sql("RESET ROLE")


def _refused(sql: str, params=None) -> str:
    with pytest.raises(DatabaseError) as error, transaction.atomic():
        _sql(sql, params)
    return str(error.value)


def test_app_role_appends_but_cannot_change_or_unprotect_the_log(roles, lone_chain):
    chain = lone_chain.schema_name
    _sql(f"SET ROLE {roles['app']}")
    assert _sql("SELECT current_user")[0] == roles["app"]
    events = [
        audit.record("thing.done", actor=SYSTEM, tenant=lone_chain, changes={"n": n})
        for n in range(3)
    ]
    assert seal_chain(chain=chain) == 3  # sealing and checkpoints only INSERT
    event = events[0].pk

    for sql in (
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %(e)s",
        "DELETE FROM audit_auditevent WHERE id = %(e)s",
        "UPDATE audit_auditchainlink SET hash = 'x' WHERE event_id = %(e)s",
        "TRUNCATE audit_auditevent",
    ):
        assert "permission denied" in _refused(sql, {"e": event})
    # The retention flag does not help a role without DELETE.
    with pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        _sql("SET LOCAL atrium.audit_retention = 'on'")
        _sql("DELETE FROM audit_auditevent WHERE id = %s", [event])
    for sql in (
        "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only",
        "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_auditevent_digest ON audit_auditevent",
        "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
        "DROP TABLE audit_auditevent",
    ):
        message = _refused(sql)
        assert "must be owner" in message or "permission denied for schema" in message

    _sql("RESET ROLE")
    result = verify_chain(chain=chain)
    assert (result.ok, result.events) == (True, 3)


def test_retention_role_deletes_only_through_the_retention_path(roles, lone_chain):
    (event,) = [audit.record("thing.done", actor=SYSTEM, tenant=lone_chain)]
    seal_chain(chain=lone_chain.schema_name)
    _sql(f"SET ROLE {roles['retention']}")
    # DELETE is granted, yet the trigger still refuses it without the retention flag...
    assert "append-only" in _refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert "permission denied" in _refused("UPDATE audit_auditevent SET action = 'x'")
    assert "must be owner" in _refused("ALTER TABLE audit_auditevent DISABLE TRIGGER ALL")
    # ...and the retention path itself (checkpoint, flag, delete) works for it.
    from datetime import timedelta

    from django.utils import timezone

    from audit.services import retention_apply_chain as apply_retention

    result = apply_retention(chain=lone_chain.schema_name, cutoff=timezone.now() + timedelta(1))
    assert (result.removed, result.refused) == (1, "")
    _sql("RESET ROLE")
    assert verify_chain(chain=lone_chain.schema_name).ok

"""The backups module's write API: back up, restore, discard, prune, drill.

Each service takes the acting principal (``actor``: the system, or vendor staff),
refuses anyone else, does its work and records its audit event in the workspace's
chain. Work on one workspace is serialised by a PostgreSQL advisory lock, so a
backup, a prune and a restore of the same workspace never overlap.

Restore goes through a staging database because pg_restore cannot rename a
schema: the dump is loaded there, the schema renamed, dumped again and loaded
into the main database under a new name. It is verified (row counts and checksums
from the manifest, migrations at the fleet's state, every document's object
present) and then swapped in (both schemas renamed in one transaction) or kept
aside for inspection.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import audit.services as audit
from core.principal import Principal, write_service
from tenants import schemas
from tenants.selectors import Tenant
from tenants.services import forget_tenant
from uploads import storage as object_storage

from . import pgtools, retention, store
from .crypto import backup_key, encrypt_stream, name_digest
from .models import Backup, RestoreDrill
from .snapshot import Snapshot, applied_migrations, document_rows, table_stats

__all__ = [
    "BackupError",
    "RestoreResult",
    "RestoreVerificationError",
    "aside_schemas",
    "backup_create",
    "backup_ids_in_storage",
    "backup_restore",
    "backups_prune",
    "backups_purge",
    "new_backup_id",
    "read_manifest",
    "restore_discard",
    "restore_drill_run",
]

logger = logging.getLogger(__name__)

MANIFEST_FORMAT = 1
_LOCK_CLASS = 0x424B5550  # "BKUP": the advisory-lock namespace of workspace backups
_ASIDE = re.compile(r"^[ro]_\d{12}_(?P<schema>[a-z_][a-z0-9_]*)$")
OPERATOR_TYPES = {"system", "vendor"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why (no secrets)."""


class RestoreVerificationError(BackupError):
    """The restored schema does not match its manifest; nothing was swapped in."""


# --- permissions and locking -------------------------------------------------------


def _require_operator(actor: Principal) -> None:
    if actor.audit_actor.type not in OPERATOR_TYPES:
        raise PermissionDenied(
            _("Only the platform's operators may back up or restore workspaces.")
        )


@contextmanager
def _workspace_lock(schema: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [_LOCK_CLASS, schema])
        if not cursor.fetchone()[0]:
            raise BackupError(f"another backup or restore of {schema} is running")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [_LOCK_CLASS, schema])


def _record(action: str, *, actor: Principal, tenant: Tenant, changes: dict) -> None:
    audit.record(action, actor=actor, target=tenant, tenant=tenant, changes=changes)


# --- backup --------------------------------------------------------------------------


def new_backup_id(now: datetime) -> str:
    """Sortable by time (to the millisecond), unique by a random tail."""
    return f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


@write_service
def backup_create(*, actor: Principal, tenant: Tenant, reason: str = "manual") -> Backup:
    """Back up ``tenant``: schema dump, stored objects, audit chain and manifest, encrypted.

    Records ``tenant.backup_created``. A failure leaves a ``failed`` catalogue row
    (for the metrics) and no partial set, and raises.
    """
    _require_operator(actor)
    key = backup_key()
    storage = store.backup_storage()
    schema = tenant.schema_name
    created = timezone.now()
    backup_id = new_backup_id(created)
    started = time.monotonic()
    try:
        with _workspace_lock(schema):
            manifest = _write_set(storage, key, tenant, backup_id, created)
    except Exception as error:
        store.delete_prefix(storage, store.set_prefix(schema, backup_id))
        Backup.objects.create(
            backup_id=backup_id, tenant=tenant, schema_name=schema, reason=reason,
            status=Backup.Status.FAILED, created_at=created,
            seconds=time.monotonic() - started, error=str(error)[:2000],
        )  # fmt: skip
        logger.error("backup of %s failed: %s", schema, error)
        raise
    objects = manifest["objects"]
    with transaction.atomic():
        row = Backup.objects.create(
            backup_id=backup_id, tenant=tenant, schema_name=schema, reason=reason,
            status=Backup.Status.OK, created_at=created, seconds=time.monotonic() - started,
            dump_bytes=manifest["dump"]["stored_bytes"],
            rows=sum(t["rows"] for t in manifest["tables"].values()),
            object_count=len(objects), object_bytes=sum(o["size"] for o in objects),
            objects_copied=manifest["objects_copied"], audit_events=manifest["audit"]["events"],
        )  # fmt: skip
        _record(
            "tenant.backup_created", actor=actor, tenant=tenant,
            changes={"backup_id": backup_id, "reason": reason, "rows": row.rows,
                     "objects": row.object_count, "object_bytes": row.object_bytes},
        )  # fmt: skip
    return row


def _write_set(storage, key: bytes, tenant: Tenant, backup_id: str, created: datetime) -> dict:
    schema = tenant.schema_name
    prefix = store.set_prefix(schema, backup_id)
    database = pgtools.main_database()
    with tempfile.TemporaryDirectory(dir=store.temp_dir()) as work:
        dump_path = f"{work}/schema.dump"
        with Snapshot(database) as snap, snap.cursor() as cursor:
            server = pgtools.server_major(cursor)
            pg_dump = pgtools.checked_tool("pg_dump", server)
            pgtools.run(
                [pg_dump, "--format=custom", f"--schema={schema}", "--no-owner",
                 "--no-privileges", f"--snapshot={snap.id}", f"--file={dump_path}"],
                database,
            )  # fmt: skip
            tables = table_stats(cursor, schema)
            migrations = sorted(applied_migrations(cursor, schema))
            documents = document_rows(cursor, schema)
            with tempfile.TemporaryFile(dir=work) as lines:
                events = 0
                for line in snap.audit_lines(schema):
                    events += line.startswith(b'{"kind": "event"')
                    lines.write(line)
                lines.seek(0)
                audit_size, audit_sha, _stored = store.put_encrypted(
                    storage, prefix + "audit.jsonl.enc", lines, key
                )
        dump_size, dump_sha, dump_stored = store.put_encrypted_path(
            storage, prefix + "schema.dump.enc", dump_path, key
        )
    objects, missing, copied = _copy_objects(storage, key, schema, documents)
    manifest = {
        "format": MANIFEST_FORMAT,
        "backup_id": backup_id,
        "created_at": created.isoformat(),
        "workspace": {
            "slug": tenant.slug,
            "name": tenant.name,
            "schema": schema,
            "tenant_id": tenant.pk,
        },
        "server_major": server,
        "pg_dump_major": pgtools.tool_major(pg_dump),
        "fingerprint": schemas.fingerprint_of(migrations),
        "migrations": [list(m) for m in migrations],
        "tables": tables,
        "dump": {
            "file": "schema.dump.enc",
            "size": dump_size,
            "sha256": dump_sha,
            "stored_bytes": dump_stored,
        },
        "audit": {
            "file": "audit.jsonl.enc",
            "size": audit_size,
            "sha256": audit_sha,
            "events": events,
        },
        "objects": objects,
        "objects_missing": missing,
        "objects_copied": copied,
    }
    store.put_json(storage, prefix + "manifest.json.enc", manifest, key)  # last: set complete
    return manifest


def _live_storage(kind: str):
    if kind == "documents":
        return object_storage.documents_storage()
    return object_storage.quarantine_storage()


def _copy_objects(storage, key: bytes, schema: str, documents) -> tuple[list, list, int]:
    """Each document's object into the backup storage, once per content (keyed digest
    of its sha256); the manifest entry says where. Objects already there are not read.
    Both sides are listed per folder, not asked per object (S3: a LIST per 1,000)."""
    objects, missing, copied = [], [], 0
    live = {kind: store.Listing(_live_storage(kind)) for kind in ("documents", "quarantine")}
    saved = store.Listing(storage)
    for doc_id, storage_key, quarantine_key, size, sha256, _state in documents:
        for kind, obj_key in (("documents", storage_key), ("quarantine", quarantine_key)):
            if not obj_key:
                continue
            if live[kind].size(obj_key) is None:
                missing.append({"document": doc_id, "storage": kind, "key": obj_key})
                continue
            name = store.object_name(schema, name_digest(key, sha256))
            actual_sha, actual_size = sha256, size
            if saved.size(name) is None:
                with (
                    object_storage.open_stream(live[kind].storage, obj_key) as src,
                    tempfile.NamedTemporaryFile(dir=store.temp_dir()) as sealed,
                ):
                    actual_size, actual_sha = encrypt_stream(src, sealed, key)
                    sealed.flush()
                    name = store.object_name(schema, name_digest(key, actual_sha))
                    store.upload_file(storage, name, sealed.name)
                    saved.add(name, sealed.tell())
                copied += 1
                if actual_sha != sha256:
                    logger.warning("object %s of %s differs from its row's sha256", obj_key, schema)
            objects.append({"document": doc_id, "storage": kind, "key": obj_key,
                            "size": actual_size, "sha256": actual_sha, "blob": name})  # fmt: skip
    return objects, missing, copied


# --- reading backups -----------------------------------------------------------------


def backup_ids_in_storage(schema: str) -> list[str]:
    """Complete backup sets of ``schema`` in the backup storage, oldest first."""
    storage = store.backup_storage()
    base = store.workspace_prefix(schema) + "sets/"
    ids = {
        name[len(base) :].split("/", 1)[0]
        for name in store.list_names(storage, base)
        if name.endswith("/manifest.json.enc")
    }
    return sorted(ids)


def read_manifest(schema: str, backup_id: str | None = None) -> dict:
    """The manifest of ``backup_id`` (the newest complete set when None)."""
    if backup_id is None:
        ids = backup_ids_in_storage(schema)
        if not ids:
            raise BackupError(f"no backup of {schema} in the backup storage")
        backup_id = ids[-1]
    if not re.fullmatch(r"[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}", backup_id):
        raise BackupError(f"not a backup id: {backup_id!r}")
    storage = store.backup_storage()
    name = store.set_prefix(schema, backup_id) + "manifest.json.enc"
    if not store.exists(storage, name):
        raise BackupError(f"no backup {backup_id} of {schema}")
    manifest = store.get_json(storage, name, backup_key())
    if manifest.get("format") != MANIFEST_FORMAT or manifest["workspace"]["schema"] != schema:
        raise BackupError(f"backup {backup_id} is not a backup of {schema}")
    return manifest


# --- restore -------------------------------------------------------------------------


@dataclass
class RestoreResult:
    """What a restore did: where the data is now, and what was checked."""

    backup_id: str
    schema: str
    restored_schema: str  # the schema the backup was loaded into
    swapped: bool
    previous_schema: str = ""  # after a swap: the schema that was live, kept aside
    tables: int = 0
    rows: int = 0
    objects_checked: int = 0
    objects_restored: int = 0
    migrated: bool = False
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def aside_name(prefix: str, schema: str, now: datetime) -> str:
    return schemas.check_schema_name(f"{prefix}_{now:%y%m%d%H%M%S}_{schema}")


@write_service
def backup_restore(
    *, actor: Principal, tenant: Tenant, backup_id: str | None = None,
    swap: bool = False,
) -> RestoreResult:  # fmt: skip
    """Restore ``tenant`` from a backup (the newest when ``backup_id`` is None).

    The backup is loaded into a new schema ``r_<time>_<schema>`` and verified.
    With ``swap`` it then replaces the live schema in one transaction (the live
    one is kept aside as ``o_<time>_<schema>``) and the routing cache is cleared:
    ``tenant.restored``. Without, it stays aside for inspection:
    ``tenant.restore_staged``. Either way, drop an aside schema with ``restore_discard``.
    """
    _require_operator(actor)
    started = time.monotonic()
    schema = tenant.schema_name
    with _workspace_lock(schema):
        manifest = read_manifest(schema, backup_id)
        now = timezone.now()
        target = aside_name("r", schema, now)
        result = _restore_into(manifest, target)
        if swap:
            previous = aside_name("o", schema, now)
            with transaction.atomic():
                locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '10s'")
                schemas.rename_schema(schema, previous)
                schemas.rename_schema(target, schema)
                _record(
                    "tenant.restored", actor=actor, tenant=locked,
                    changes={"backup_id": manifest["backup_id"], "previous_schema": previous,
                             "rows": result.rows, "objects_restored": result.objects_restored},
                )  # fmt: skip
                transaction.on_commit(lambda: forget_tenant(locked))
            result.swapped, result.previous_schema = True, previous
        else:
            _record(
                "tenant.restore_staged", actor=actor, tenant=tenant,
                changes={"backup_id": manifest["backup_id"], "schema": target,
                         "rows": result.rows},
            )  # fmt: skip
    result.seconds = time.monotonic() - started
    return result


def _restore_into(manifest: dict, target: str) -> RestoreResult:
    schema = manifest["workspace"]["schema"]
    if schemas.schema_exists(target):
        raise BackupError(f"schema {target} exists already")
    result = RestoreResult(
        backup_id=manifest["backup_id"], schema=schema, restored_schema=target, swapped=False
    )
    storage = store.backup_storage()
    key = backup_key()
    with tempfile.TemporaryDirectory(dir=store.temp_dir()) as work:
        dump = f"{work}/schema.dump"
        with open(dump, "wb") as out:
            size, sha = store.get_decrypted(
                storage, store.set_prefix(schema, manifest["backup_id"]) + "schema.dump.enc",
                out, key,
            )  # fmt: skip
        if (size, sha) != (manifest["dump"]["size"], manifest["dump"]["sha256"]):
            raise RestoreVerificationError("the dump does not match its manifest")
        renamed = f"{work}/renamed.dump"
        _rename_through_staging(dump, schema, target, renamed)
        main = pgtools.main_database()
        with connection.cursor() as cursor:
            pg_restore = pgtools.checked_tool("pg_restore", pgtools.server_major(cursor))
        pgtools.run(
            [pg_restore, "--single-transaction", "--exit-on-error", "--no-owner",
             "--no-privileges", f"--dbname={main.name}", renamed],
            main,
        )  # fmt: skip
    try:
        _verify(manifest, target, result)
    except Exception:
        schemas.drop_schema(target)
        raise
    return result


def _rename_through_staging(dump: str, schema: str, target: str, out: str) -> None:
    staging = pgtools.staging_database()
    _ensure_database(staging)
    with psycopg.connect(**staging.connect_kwargs(), autocommit=True) as conn:
        server = pgtools.server_major(conn.cursor())
        pg_restore = pgtools.checked_tool("pg_restore", server)
        pg_dump = pgtools.checked_tool("pg_dump", server)
        for name in (schema, target):
            conn.execute(f"DROP SCHEMA IF EXISTS {_q(name)} CASCADE")
        try:
            pgtools.run(
                [pg_restore, "--exit-on-error", "--no-owner", "--no-privileges",
                 f"--dbname={staging.name}", dump],
                staging,
            )  # fmt: skip
            conn.execute(f"ALTER SCHEMA {_q(schema)} RENAME TO {_q(target)}")
            pgtools.run(
                [pg_dump, "--format=custom", f"--schema={target}", "--no-owner",
                 "--no-privileges", f"--file={out}"],
                staging,
            )  # fmt: skip
        finally:
            for name in (schema, target):
                conn.execute(f"DROP SCHEMA IF EXISTS {_q(name)} CASCADE")


def _q(name: str) -> str:
    return '"' + schemas.check_schema_name(name) + '"'


def _ensure_database(database: pgtools.Database) -> None:
    """Create the staging database when it is missing (needs CREATEDB)."""
    try:
        psycopg.connect(**database.connect_kwargs()).close()
        return
    except psycopg.OperationalError as error:
        if "does not exist" not in str(error):
            raise
    maintenance = database.with_name("postgres")
    with (
        psycopg.connect(**maintenance.connect_kwargs(), autocommit=True) as conn,
        contextlib.suppress(psycopg.errors.DuplicateDatabase),  # a concurrent restore
    ):
        conn.execute(f'CREATE DATABASE "{database.name}"')


def _verify(manifest: dict, target: str, result: RestoreResult) -> None:
    """Rows and checksums, then migrations, then objects; raises on the first mismatch."""
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor, for psycopg.sql
        got = table_stats(cursor, target)
        want = manifest["tables"]
        if set(got) != set(want):
            raise RestoreVerificationError(
                f"tables differ from the manifest: {sorted(set(got) ^ set(want))}"
            )
        for table, stats in want.items():
            if got[table] != stats:
                raise RestoreVerificationError(
                    f"table {table}: {got[table]['rows']} rows (checksum "
                    f"{got[table]['checksum']}), the manifest says {stats['rows']} "
                    f"({stats['checksum']})"
                )
        result.tables = len(got)
        result.rows = sum(s["rows"] for s in got.values())
        applied = _tenant_migrations(applied_migrations(cursor, target))
    expected = schemas.expected_migrations()
    if applied - expected:
        raise RestoreVerificationError(
            f"the backup has migrations this code does not know: {sorted(applied - expected)[:5]}"
        )
    if expected - applied:
        schemas.migrate_schema(target)  # an older backup is brought to the fleet's state
        result.migrated = True
        with connection.cursor() as django_cursor:
            applied = _tenant_migrations(applied_migrations(django_cursor.cursor, target))
        if expected - applied:
            raise RestoreVerificationError("migrations did not reach the fleet's state")
    live = {kind: store.Listing(_live_storage(kind)) for kind in ("documents", "quarantine")}
    _restore_objects(manifest, result, live)
    with connection.cursor() as django_cursor:
        documents = document_rows(django_cursor.cursor, target)
    missing_at_backup = {(m["storage"], m["key"]) for m in manifest.get("objects_missing", [])}
    for _id, storage_key, quarantine_key, _size, _sha, _state in documents:
        for kind, obj_key in (("documents", storage_key), ("quarantine", quarantine_key)):
            if not obj_key:
                continue
            if live[kind].size(obj_key) is None:
                if (kind, obj_key) in missing_at_backup:
                    result.problems.append(f"{kind}:{obj_key} was already missing at backup")
                    continue
                raise RestoreVerificationError(f"document object {obj_key} is not present")


def _tenant_migrations(applied: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """A schema's ``django_migrations`` lists shared apps too; the fleet's state is
    about the apps that live in tenant schemas."""
    labels = schemas.tenant_app_labels()
    return {m for m in applied if m[0] in labels}


def _restore_objects(manifest: dict, result: RestoreResult, live: dict) -> None:
    """Put back every object of the manifest that is missing or of the wrong size,
    decrypted from the backup storage, checked against its sha256 before it is stored."""
    storage = store.backup_storage()
    key = backup_key()
    for entry in manifest["objects"]:
        listing = live[entry["storage"]]
        result.objects_checked += 1
        present = listing.size(entry["key"])
        if present == entry["size"]:
            continue
        with tempfile.NamedTemporaryFile(dir=store.temp_dir()) as plain:
            size, sha = store.get_decrypted(storage, entry["blob"], plain, key)
            if (size, sha) != (entry["size"], entry["sha256"]):
                raise RestoreVerificationError(f"backup of object {entry['key']} is damaged")
            plain.flush()
            plain.seek(0)
            store.upload_file(listing.storage, entry["key"], plain.name)
        listing.add(entry["key"], size)
        result.objects_restored += 1


@write_service
def restore_discard(*, actor: Principal, tenant: Tenant, schema_name: str) -> None:
    """Drop a schema a restore kept aside (``r_…`` restored, ``o_…`` previously live).

    Records ``tenant.restore_discarded``. Only aside schemas of ``tenant`` qualify.
    """
    _require_operator(actor)
    match = _ASIDE.match(schema_name)
    if not match or match.group("schema") != tenant.schema_name:
        raise BackupError(f"{schema_name} is not a schema a restore of {tenant.slug} set aside")
    if not schemas.schema_exists(schema_name):
        raise BackupError(f"schema {schema_name} does not exist")
    with transaction.atomic():
        schemas.drop_schema(schema_name)
        _record("tenant.restore_discarded", actor=actor, tenant=tenant,
                changes={"schema": schema_name})  # fmt: skip


def aside_schemas(tenant: Tenant) -> list[str]:
    """Schemas restores of ``tenant`` set aside, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s OR nspname LIKE %s",
            [f"r\\_%\\_{tenant.schema_name}", f"o\\_%\\_{tenant.schema_name}"],
        )
        names = [row[0] for row in cursor.fetchall()]
    return sorted(
        (n for n in names if (m := _ASIDE.match(n)) and m.group("schema") == tenant.schema_name),
        key=lambda n: n[2:14],
    )


# --- retention -----------------------------------------------------------------------


@write_service
def backups_prune(*, actor: Principal, tenant: Tenant, now: datetime | None = None) -> int:
    """Apply retention to ``tenant``'s backups (``backups.retention``); returns how many
    sets were removed. Objects no kept set refers to are removed too. Records
    ``tenant.backups_pruned`` when anything was removed."""
    _require_operator(actor)
    now = now or timezone.now()
    storage = store.backup_storage()
    schema = tenant.schema_name
    with _workspace_lock(schema):
        rows = list(Backup.objects.filter(tenant=tenant, status=Backup.Status.OK))
        keep = retention.to_keep([row.created_at for row in rows], now=now)
        gone = [row for i, row in enumerate(rows) if i not in keep]
        for row in gone:
            store.delete_prefix(storage, store.set_prefix(schema, row.backup_id))
        failed = Backup.objects.filter(
            tenant=tenant, status=Backup.Status.FAILED,
            created_at__lt=now - retention.daily_window(),
        )  # fmt: skip
        failed.delete()
        # Objects: keep what any remaining complete set refers to.
        referenced: set[str] = set()
        for backup_id in backup_ids_in_storage(schema):
            referenced.update(o["blob"] for o in read_manifest(schema, backup_id)["objects"])
        objects_removed = 0
        for name in store.list_names(storage, store.workspace_prefix(schema) + "objects/"):
            if name not in referenced:
                store.delete(storage, name)
                objects_removed += 1
        if gone or objects_removed:
            with transaction.atomic():
                Backup.objects.filter(pk__in=[row.pk for row in gone]).delete()
                _record(
                    "tenant.backups_pruned", actor=actor, tenant=tenant,
                    changes={"removed": [row.backup_id for row in gone],
                             "objects_removed": objects_removed},
                )  # fmt: skip
    return len(gone)


@write_service
def backups_purge(*, actor: Principal, tenant: Tenant) -> int:
    """Delete every backup of ``tenant`` for good (offboarding's purge of a deleted
    workspace): every file under its prefix in the backup storage (sets and objects),
    the schemas restores set aside, and its ``Backup`` rows. Returns how many files
    were deleted.

    Idempotent and resumable: manifests go first, so a crash mid-way leaves no set that
    looks complete (restorable), and a second run lists what is left and finishes.
    Records ``tenant.backups_purged`` when anything was removed. Other workspaces'
    backups are never listed (the prefix is the workspace's schema)."""
    _require_operator(actor)
    storage = store.backup_storage()
    schema = tenant.schema_name
    with _workspace_lock(schema):
        names = store.list_names(storage, store.workspace_prefix(schema))
        first = [n for n in names if n.endswith("/manifest.json.enc")]
        removed = 0
        for name in [*first, *sorted(set(names) - set(first))]:
            store.delete(storage, name)
            removed += 1
        aside = aside_schemas(tenant)
        with transaction.atomic():
            for name in aside:
                schemas.drop_schema(name)
            rows = Backup.objects.filter(tenant=tenant).delete()[0]
            if removed or rows or aside:
                _record(
                    "tenant.backups_purged", actor=actor, tenant=tenant,
                    changes={"files": removed, "backups": rows, "schemas": aside},
                )  # fmt: skip
    return removed


# --- the drill -----------------------------------------------------------------------


@write_service
def restore_drill_run(*, actor: Principal, tenant: Tenant | None = None) -> RestoreDrill:
    """Restore a workspace's newest backup aside, verify it and its audit chain, drop it.

    The workspace is ``tenant``, else ``BACKUP_DRILL_WORKSPACE``, else the one whose
    last drill is oldest. The outcome is a ``RestoreDrill`` row (see
    ``selectors.last_drill_result``) and ``tenant.restore_drilled``; a failure is
    logged at ERROR and recorded, never raised.
    """
    from .selectors import drill_candidate

    _require_operator(actor)
    started_at = timezone.now()
    started = time.monotonic()
    tenant = tenant or drill_candidate()
    details: dict = {}
    backup_id, error = "", ""
    try:
        if tenant is None:
            raise BackupError("no workspace has a backup to drill")
        schema = tenant.schema_name
        with _workspace_lock(schema):
            manifest = read_manifest(schema)
            backup_id = manifest["backup_id"]
            target = aside_name("r", schema, timezone.now())
            try:
                result = _restore_into(manifest, target)
            finally:
                if schemas.schema_exists(target):
                    schemas.drop_schema(target)
        chain = audit.verify_chain(chain=schema)
        details = {"rows": result.rows, "tables": result.tables,
                   "objects_checked": result.objects_checked,
                   "objects_restored": result.objects_restored,
                   "audit_events": chain.events}  # fmt: skip
        if not chain.ok:
            raise BackupError(f"audit chain does not verify: {chain.first_bad}")
    except Exception as exc:
        error = str(exc)[:2000]
        logger.error("restore drill failed: %s", error)
    with transaction.atomic():
        drill = RestoreDrill.objects.create(
            tenant=tenant, backup_id=backup_id, started_at=started_at,
            finished_at=timezone.now(), ok=not error, seconds=time.monotonic() - started,
            error=error, details=details,
        )  # fmt: skip
        if tenant is not None:
            _record("tenant.restore_drilled", actor=actor, tenant=tenant,
                    changes={"backup_id": backup_id, "ok": not error, **details})  # fmt: skip
    return drill

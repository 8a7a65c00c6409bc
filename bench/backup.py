"""Benchmark: back up and restore one workspace of 10,000 rows and 1 GB of documents.

    .venv/bin/python bench/backup.py      (from the repo root, services running)

Works in its own database ``bench_backup`` (never the dev ``atrium`` one), with the
documents and the backup storage on the filesystem under ``var/bench-backup/``.
The workspace gets 1,000 users and 9,000 documents (10,000 rows in its schema) whose
objects hold 1 GiB of random bytes (incompressible, ~116 KiB each). Measured, in
this process (the services run here, as in a Celery worker):

- **backup**: ``backups.services.backup_create`` (pg_dump in a snapshot, checksums,
  encryption and copy of every object, audit export, manifest);
- **restore**: after deleting every document row and every object,
  ``backup_restore(swap=True)`` (decrypt, staging database, load, verify, put back
  every object, swap).

Peak RSS is the kernel's high-water mark (VmHWM) of this process, reset before each
phase through ``/proc/self/clear_refs``; the children's (pg_dump, pg_restore) is
sampled every 20 ms. Bounded: one backup, one restore, a 15-minute
deadline. ``BENCH_BACKUP_MB`` changes the amount of documents. The last line
printed is one JSON object.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import threading
import time
import uuid

import _common
import psutil

ROOT = _common.ROOT
DB_NAME = "bench_backup"
TOTAL = int(os.environ.get("BENCH_BACKUP_MB", "1024")) * 1024 * 1024
USERS = 1_000
DOCUMENTS = 9_000
DEADLINE_S = 900
WORK = ROOT / "var" / "bench-backup"


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")


class ChildPeaks:
    """Largest RSS seen of each child program (pg_dump, pg_restore), sampled every
    20 ms (``ru_maxrss`` of children would count the forked Python before exec)."""

    def __init__(self) -> None:
        self.peaks: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                try:
                    name, rss = child.name(), child.memory_info().rss / 2**20
                except psutil.Error:
                    continue
                self.peaks[name] = max(self.peaks.get(name, 0.0), rss)
            time.sleep(0.02)

    def __enter__(self) -> ChildPeaks:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def of(self, *names: str) -> float:
        return round(max((self.peaks.get(n, 0.0) for n in names), default=0.0), 1)


def main() -> int:
    started = time.monotonic()
    shutil.rmtree(WORK, ignore_errors=True)
    env = _common.use_environment(DB_NAME)
    os.environ["BACKUP_ROOT"] = str(WORK / "backups")
    os.environ["BACKUP_ENCRYPTION_KEY"] = "YmVuY2gtb25seS1iYWNrdXAta2V5LTMyLWJ5dGVzISE="
    os.environ["FILE_UPLOAD_TEMP_DIR"] = str(WORK / "tmp")
    os.environ["TENANT_SPARE_POOL_SIZE"] = "0"
    _common.recreate_database(DB_NAME)
    _common.drop_database(f"{DB_NAME}_restore_staging")
    _common.flush_redis()
    _common.setup()
    del env

    from django.conf import settings

    settings.STORAGES.update(
        __import__("config.settings.base", fromlist=["x"]).uploads_storages(
            bucket="", root=WORK / "media"
        )
    )
    from django.core.files.storage import storages

    storages._storages = {}
    storages._backends = None

    _common.migrate_public()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django_tenants.utils import schema_context

    from backups import services
    from core.principal import SYSTEM
    from signup.services import tenant_provision
    from uploads import storage as object_storage
    from uploads.models import Document

    print(f"making the workspace: {USERS} users, {DOCUMENTS} documents, {TOTAL >> 20} MiB")
    tenant = tenant_provision(
        actor=SYSTEM,
        slug="bench", name="Bench", owner_email="owner@bench.test",
        owner_password=_common.BENCH_PASSWORD,
    ).tenant  # fmt: skip
    schema = tenant.schema_name
    each = TOTAL // DOCUMENTS
    documents = object_storage.documents_storage()
    with schema_context(schema):
        user_model = get_user_model()
        password = make_password(_common.BENCH_PASSWORD)
        user_model.objects.bulk_create(
            user_model(email=f"user{i}@bench.test", full_name=f"User {i}", password=password)
            for i in range(USERS - 1)
        )
        rows = []
        for i in range(DOCUMENTS):
            doc_id = uuid.uuid4()
            key = object_storage.document_key(schema, doc_id)
            content = os.urandom(each)
            object_storage.save_stream(documents, key, io.BytesIO(content))
            rows.append(Document(
                id=doc_id, name=f"doc-{i}.bin", size=each, content_type="application/octet-stream",
                sha256=__import__("hashlib").sha256(content).hexdigest(),
                state=Document.State.AVAILABLE, storage_key=key,
            ))  # fmt: skip
        Document.objects.bulk_create(rows, batch_size=1000)
        row_count = user_model.objects.count() + Document.objects.count()
    connection.set_schema_to_public()
    print(f"made in {time.monotonic() - started:.1f} s; {row_count} user and document rows")

    reset_peak()
    t0 = time.monotonic()
    with ChildPeaks() as children:
        backup = services.backup_create(actor=SYSTEM, tenant=tenant)
    backup_s = time.monotonic() - t0
    backup_rss = peak_rss_mb()
    backup_children = children.of("pg_dump")
    print(
        f"backup   {backup_s:7.1f} s  {backup.rows} rows, {backup.object_count} objects "
        f"({backup.object_bytes / 2**20:.0f} MiB), dump {backup.dump_bytes / 2**20:.1f} MiB; "
        f"peak RSS {backup_rss:.1f} MB (pg_dump {backup_children:.1f} MB)"
    )
    if time.monotonic() - started > DEADLINE_S:
        raise SystemExit("deadline passed before the restore")

    with schema_context(schema):
        Document.objects.all().delete()
    connection.set_schema_to_public()
    shutil.rmtree(WORK / "media" / "documents")

    reset_peak()
    t0 = time.monotonic()
    with ChildPeaks() as children:
        result = services.backup_restore(actor=SYSTEM, tenant=tenant, swap=True)
    restore_s = time.monotonic() - t0
    restore_rss = peak_rss_mb()
    restore_children = children.of("pg_dump", "pg_restore")
    services.restore_discard(actor=SYSTEM, tenant=tenant, schema_name=result.previous_schema)
    with schema_context(schema):
        back = Document.objects.count()
    connection.set_schema_to_public()
    assert back == DOCUMENTS and result.objects_restored == DOCUMENTS, (back, result)
    print(
        f"restore  {restore_s:7.1f} s  {result.rows} rows verified, "
        f"{result.objects_restored} objects put back; peak RSS {restore_rss:.1f} MB "
        f"(children {restore_children:.1f} MB)"
    )

    if not os.environ.get("BENCH_KEEP_DB"):
        from django.db import connections

        connections.close_all()
        _common.drop_database(DB_NAME)
        _common.drop_database(f"{DB_NAME}_restore_staging")
        shutil.rmtree(WORK, ignore_errors=True)
    _common.emit({
        "bench": "backup", "rows": backup.rows, "documents": DOCUMENTS,
        "document_bytes": backup.object_bytes, "backup_s": round(backup_s, 2),
        "backup_peak_rss_mb": round(backup_rss, 1),
        "pg_dump_peak_rss_mb": round(backup_children, 1),
        "restore_s": round(restore_s, 2), "restore_peak_rss_mb": round(restore_rss, 1),
        "pg_tools_peak_rss_mb": round(restore_children, 1),
        "dump_bytes": backup.dump_bytes,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: export a 1 GB workspace through a real Celery worker, on S3 (moto).

    .venv/bin/python bench/offboarding.py      (from the repo root, services running)

Works in its own database ``bench_offboarding`` and Redis db 10, with documents and
exports on moto's S3 server on loopback. The workspace gets 1,000 users and 1 GiB of
random (incompressible) documents: 1,000 of ~0.9 MiB and two of 64 MiB (files larger
than a part). A Celery worker (``python -m config.worker --pool solo``) builds the
export queued by ``offboarding.services.export_request``; the figure is that worker's
peak RSS (the kernel's VmHWM) at the end, against the target of 150 MB. The archive is
then read back from S3 and its sha256 checked against the export's. Bounded: one
export, a 15-minute deadline. ``BENCH_EXPORT_MB`` changes the amount of documents. The
last line printed is one JSON object.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import time
import uuid

import _common

ROOT = _common.ROOT
DB_NAME = "bench_offboarding"
TOTAL = int(os.environ.get("BENCH_EXPORT_MB", "1024")) * 1024 * 1024
USERS = 1_000
BIG = 2
BIG_BYTES = 64 * 1024 * 1024
DEADLINE_S = 900
TARGET_MB = 150
BUCKET, EXPORT_BUCKET = "atrium-bench", "atrium-bench-exports"


def vm_hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def vm_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_workspace():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection
    from django_tenants.utils import schema_context

    from core.principal import SYSTEM
    from signup.services import tenant_provision
    from uploads import storage as object_storage
    from uploads.models import Document

    tenant = tenant_provision(
        actor=SYSTEM, slug="bench", name="Bench", owner_email="owner@bench.test",
        owner_password=_common.BENCH_PASSWORD,
    ).tenant  # fmt: skip
    schema = tenant.schema_name
    documents = object_storage.documents_storage()
    small = (TOTAL - BIG * BIG_BYTES) // 1000
    sizes = [BIG_BYTES] * BIG + [small] * 1000
    with schema_context(schema):
        users = get_user_model()
        password = make_password(_common.BENCH_PASSWORD)
        users.objects.bulk_create(
            users(email=f"user{i}@bench.test", full_name=f"User {i}", password=password)
            for i in range(USERS - 1)
        )
        rows = []
        for i, size in enumerate(sizes):
            doc_id = uuid.uuid4()
            key = object_storage.document_key(schema, doc_id)
            content = os.urandom(size)
            object_storage.save_stream(documents, key, io.BytesIO(content))
            rows.append(Document(
                id=doc_id, name=f"doc-{i}.bin", size=size,
                content_type="application/octet-stream",
                sha256=hashlib.sha256(content).hexdigest(),
                state=Document.State.AVAILABLE, storage_key=key,
            ))  # fmt: skip
            del content
        Document.objects.bulk_create(rows, batch_size=1000)
    connection.set_schema_to_public()
    return tenant, len(sizes), sum(sizes)


def main() -> int:
    started = time.monotonic()
    load_at_start = round(os.getloadavg()[0], 2)
    procs: list[subprocess.Popen] = []
    s3_port = _common.free_port()
    env = _common.use_environment(DB_NAME)
    env.update({
        "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "AWS_STORAGE_BUCKET_NAME": BUCKET,
        "OFFBOARDING_EXPORT_BUCKET_NAME": EXPORT_BUCKET,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "TENANT_SPARE_POOL_SIZE": "0",
    })  # fmt: skip
    os.environ.update(env)
    try:
        _common.recreate_database(DB_NAME)
        _common.flush_redis()
        _common.start_moto(s3_port, env, procs)
        import boto3

        s3 = boto3.client(
            "s3", endpoint_url=env["S3_ENDPOINT_URL"], region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
        )  # fmt: skip
        s3.create_bucket(Bucket=BUCKET)
        s3.create_bucket(Bucket=EXPORT_BUCKET)
        _common.setup()
        _common.migrate_public()
        print(f"making the workspace: {USERS} users, {TOTAL >> 20} MiB of documents")
        tenant, documents, document_bytes = make_workspace()
        print(f"made in {time.monotonic() - started:.1f} s: {documents} documents")
        _common.flush_redis()  # nothing but the export for the worker
        log = ROOT / "var" / "bench-offboarding-worker.log"

        worker = subprocess.Popen(
            [sys.executable, "-m", "config.worker", "--pool", "solo", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(worker)
        time.sleep(5)
        if worker.poll() is not None:
            raise SystemExit("the worker exited")
        idle = vm_rss_mb(worker.pid)

        from core.principal import SYSTEM
        from offboarding.models import Export
        from offboarding.services import export_request

        t0 = time.monotonic()
        export = export_request(actor=SYSTEM, tenant_id=tenant.pk, reason="benchmark")
        while True:
            export.refresh_from_db()
            if export.status in {Export.Status.DONE, Export.Status.FAILED}:
                break
            if time.monotonic() - started > DEADLINE_S:
                raise SystemExit("deadline passed during the export")
            time.sleep(0.5)
        export_s = time.monotonic() - t0
        peak = vm_hwm_mb(worker.pid)
        if export.status != Export.Status.DONE:
            print(log.read_text()[-4000:])
            raise SystemExit(f"export failed: {export.error}")
        print(
            f"export   {export_s:7.1f} s  {export.size / 2**20:.0f} MiB archive, "
            f"{export.documents} documents; worker peak RSS {peak:.1f} MB (idle {idle:.1f})"
        )

        digest = hashlib.sha256()
        body = s3.get_object(Bucket=EXPORT_BUCKET, Key=export.storage_key)["Body"]
        for chunk in iter(lambda: body.read(1 << 20), b""):
            digest.update(chunk)
        checksum_ok = digest.hexdigest() == export.sha256
        print(f"archive read back from S3: sha256 {'matches' if checksum_ok else 'DIFFERS'}")
    finally:
        _common.stop_processes(procs)
    if not os.environ.get("BENCH_KEEP_DB"):
        from django.db import connections

        connections.close_all()
        _common.drop_database(DB_NAME)
        _common.flush_redis()
    _common.emit({
        "bench": "offboarding", "documents": documents, "document_bytes": document_bytes,
        "archive_bytes": export.size, "export_s": round(export_s, 2),
        "worker_peak_rss_mb": round(peak, 1), "worker_idle_rss_mb": round(idle, 1),
        "target_mb": TARGET_MB, "ok": bool(peak < TARGET_MB and checksum_ok),
        "load_at_start": load_at_start,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

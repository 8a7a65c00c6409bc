#!/usr/bin/env bash
# `make run`: migrate, ensure the demo workspace, then serve the site and a Celery
# worker until Ctrl-C, which stops everything this script and `make` started.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
PORT="${PORT:-8000}"

cleanup() {
  trap - INT TERM EXIT
  set +e
  if [ -n "${WORKER_PID:-}" ]; then
    kill -TERM "$WORKER_PID" 2>/dev/null
    wait "$WORKER_PID" 2>/dev/null
  fi
  PY=$PY deploy/local/services.sh stop
}
trap cleanup EXIT
trap 'exit 0' INT TERM

$PY manage.py migrate_schemas --noinput -v 0
$PY manage.py refill_spare_pool
$PY manage.py ensure_demo_tenant
.venv/bin/celery -A config worker --beat --loglevel WARNING --concurrency 1 \
  --schedule var/celerybeat-schedule &
WORKER_PID=$!
echo
echo "  Public site: http://localhost:$PORT/"
echo "  Demo workspace: http://demo.localhost:$PORT/   (Ctrl-C stops everything)"
echo
$PY manage.py runserver "127.0.0.1:$PORT"

#!/usr/bin/env bash
# `make run`: migrate, ensure the demo workspace, then serve the site and a Celery
# worker (restarted if it dies) until Ctrl-C, which stops everything this script and
# `make` started.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
PY=.venv/bin/python
PORT="${PORT:-8000}"

cleanup() {
  trap - INT TERM EXIT
  set +e
  for pid in ${WEB_PID:-} ${WORKER_PID:-}; do kill -TERM "$pid" 2>/dev/null; done
  for pid in ${WEB_PID:-} ${WORKER_PID:-}; do wait "$pid" 2>/dev/null; done
  PY=$PY deploy/local/services.sh stop
}
trap cleanup EXIT
trap 'exit 0' INT TERM

$PY manage.py migrate_schemas --noinput -v 0
$PY manage.py refill_spare_pool
$PY manage.py ensure_demo_tenant
# Plans and prices into Stripe (the emulator starts empty every time); without real
# keys, the emulator delivers its webhooks to this server (billing/README.md).
$PY manage.py sync_plans
if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
  $PY manage.py billing_emulator_webhook "http://localhost:$PORT/billing/webhook/"
fi
# A worker that dies (killed, out of memory) is started again with a bounded back-off
# rather than taking the site down with it.
deploy/local/supervise.sh worker $PY -m config.worker --beat --loglevel WARNING \
  --concurrency 1 --schedule var/celerybeat-schedule &
WORKER_PID=$!
echo
echo "  Public site: http://localhost:$PORT/"
echo "  Demo workspace: http://demo.localhost:$PORT/   (Ctrl-C stops everything)"
echo
# In the background, so that a signal reaches the trap at once rather than
# after the server exits; the session ends with the server (the worker's supervisor
# only ends when told to).
$PY manage.py runserver "127.0.0.1:$PORT" &
WEB_PID=$!
wait "$WEB_PID"

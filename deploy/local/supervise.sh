#!/usr/bin/env bash
# Run a command and start it again whenever it exits, with a bounded back-off:
# 1 s, 2 s, 4 s ... up to SUPERVISE_MAX_DELAY (30 s); a run that lasted longer than
# SUPERVISE_RESET_AFTER (60 s) starts the back-off again from 1 s. TERM or INT stops the
# command (passing the signal on) and then the supervisor.
#
#   deploy/local/supervise.sh NAME COMMAND [ARGS...]
set -uo pipefail
NAME="$1"; shift
MAX_DELAY="${SUPERVISE_MAX_DELAY:-30}"
RESET_AFTER="${SUPERVISE_RESET_AFTER:-60}"
child=""
stopping=""

stop() {
  stopping=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
  [ -n "$child" ] && wait "$child" 2>/dev/null
  exit 0
}
trap stop INT TERM

delay=1
while :; do
  started=$(date +%s)
  "$@" &
  child=$!
  wait "$child"
  code=$?
  [ -n "$stopping" ] && exit 0
  child=""
  if [ $(( $(date +%s) - started )) -ge "$RESET_AFTER" ]; then delay=1; fi
  echo "[supervise] $NAME exited with status $code; starting it again in ${delay}s" >&2
  sleep "$delay" & wait $!
  delay=$(( delay * 2 > MAX_DELAY ? MAX_DELAY : delay * 2 ))
done

#!/usr/bin/env bash
# Quick start: migrate, create the demo project, then run the ASGI server, a Celery worker and beat.
# Without DATABASE_URL/REDIS_URL it uses the embedded defaults (SQLite under var/, filesystem broker).
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
export DEBUG="${DEBUG:-1}"
export SECURE_HTTPS="${SECURE_HTTPS:-0}"
PORT="${PORT:-8000}"
PY=.venv/bin/python
mkdir -p var/log
$PY manage.py migrate --noinput
$PY manage.py laypath_demo
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
$PY -m celery -A config worker -Q default,gpu --concurrency 1 --loglevel INFO >var/log/worker.log 2>&1 &
pids+=($!)
$PY -m celery -A config beat --loglevel INFO --schedule var/celerybeat-schedule >var/log/beat.log 2>&1 &
pids+=($!)
echo "Laypath is running at http://127.0.0.1:${PORT}/  (worker and beat logs in var/log/; Ctrl-C stops)"
$PY -m uvicorn config.asgi:application --host "${HOST:-127.0.0.1}" --port "$PORT" --log-level warning &
pids+=($!)
wait "${pids[-1]}"

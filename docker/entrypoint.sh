#!/usr/bin/env bash
# Container entry point: one image, several roles. LAYPATH_DRY_RUN=1 prints the command instead of running it.
set -euo pipefail
cd "${LAYPATH_APP_DIR:-/app}"
role="${1:-web}"
shift || true
PY="${PYTHON:-python}"

run() {
  if [ "${LAYPATH_DRY_RUN:-0}" = "1" ]; then echo "$*"; else exec "$@"; fi
}

require_secret() {
  if [ "${DEBUG:-0}" != "1" ] && [ "${#SECRET_KEY}" -lt 32 ]; then
    echo "entrypoint: SECRET_KEY must be set (32+ characters) when DEBUG is off" >&2
    exit 64
  fi
}

case "$role" in
  web)
    require_secret
    if [ "${MIGRATE_ON_START:-0}" = "1" ] && [ "${LAYPATH_DRY_RUN:-0}" != "1" ]; then "$PY" manage.py migrate --noinput; fi
    if [ "${LAYPATH_DRY_RUN:-0}" != "1" ]; then "$PY" manage.py collectstatic --noinput >/dev/null; fi
    # keep idle connections longer than nginx's upstream keepalive (60 s): uvicorn's default 5 s races
    # reuse of the connection, and a POST that hits the closing connection is not retried (502)
    run "$PY" -m uvicorn config.asgi:application --host 0.0.0.0 --port "${PORT:-8000}" \
      --workers "${WEB_WORKERS:-2}" --timeout-keep-alive "${KEEP_ALIVE_S:-75}" \
      --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-*}" "$@" ;;
  worker)
    require_secret
    run "$PY" -m celery -A config worker -Q "${WORKER_QUEUES:-default}" --concurrency "${WORKER_CONCURRENCY:-2}" \
      --loglevel "${LOG_LEVEL:-INFO}" -n "worker-$(hostname)@%h" "$@" ;;
  gpu-worker)
    require_secret
    run "$PY" -m celery -A config worker -Q gpu --concurrency 1 --pool solo --loglevel "${LOG_LEVEL:-INFO}" \
      -n "gpu-$(hostname)@%h" "$@" ;;
  beat)
    require_secret
    run "$PY" -m celery -A config beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "${LAYPATH_VAR_DIR:-/var/lib/laypath}/celerybeat-schedule" "$@" ;;
  migrate)
    require_secret
    run "$PY" manage.py migrate --noinput "$@" ;;
  manage)
    run "$PY" manage.py "$@" ;;
  *)
    echo "entrypoint: unknown role '$role' (web, worker, gpu-worker, beat, migrate, manage)" >&2
    exit 64 ;;
esac

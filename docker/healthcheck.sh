#!/usr/bin/env bash
# Container health: the web role answers /healthz's database check; a worker pings its broker.
set -euo pipefail
if [ "${1:-web}" = "worker" ]; then
  exec python -m celery -A config inspect ping --timeout 5 -d "gpu-$(hostname)@$(hostname)" >/dev/null
fi
code=$(curl -s -o /tmp/healthz.json -w '%{http_code}' "http://127.0.0.1:${PORT:-8000}/healthz" || true)
# 503 means a dependency is degraded (e.g. no worker yet) but the web process itself is alive
grep -q '"database": {"ok": true' /tmp/healthz.json 2>/dev/null || [ "$code" = "200" ]

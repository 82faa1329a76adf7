#!/usr/bin/env bash
# Entry point of every MLP Ops service image (deploy/Dockerfile).
#   web          gunicorn serving services.$MLP_SERVICE.app:create_app() on 0.0.0.0:$PORT
#                (workers/threads/timeout from MLP_WEB_WORKERS/THREADS/TIMEOUT, shared/gunicorn_conf.py)
#   worker       python -m services.$MLP_SERVICE.worker (consumer loop + outbox relay)
#   healthcheck  exit 0 when the process in this container answers: the web's /healthz,
#                or the worker's /readyz on its metrics port (MLP_<SERVICE>_WORKER_METRICS_PORT):
#                ready once its consumer holds its partitions
#   anything else is run as given (e.g. `python -m shared.bus provision`).
set -euo pipefail

service="${MLP_SERVICE:?MLP_SERVICE is not set; build the image with --build-arg SERVICE=<name>}"
upper="${service^^}"
port_var="MLP_${upper}_PORT"
metrics_var="MLP_${upper}_WORKER_METRICS_PORT"
default_port="$(python -c "from services.${service}.config import DEFAULT_PORT; print(DEFAULT_PORT)")"
PORT="${PORT:-${!port_var:-${default_port}}}"
WORKER_METRICS_PORT="${!metrics_var:-$((PORT + 100))}"
export PORT

case "${1:-web}" in
  web)
    shift || true
    exec gunicorn --config shared/gunicorn_conf.py \
      --bind "0.0.0.0:${PORT}" "$@" "services.${service}.app:create_app()"
    ;;
  worker)
    shift
    exec python -m "services.${service}.worker" "$@"
    ;;
  healthcheck)
    # PID 1 is the exec'd gunicorn or worker: probe whichever this container runs.
    if tr '\0' ' ' </proc/1/cmdline | grep -q "services.${service}.worker"; then
      url="http://127.0.0.1:${WORKER_METRICS_PORT}/readyz"
    else
      url="http://127.0.0.1:${PORT}/healthz"
    fi
    exec python -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=3).status == 200 else 1)" "$url"
    ;;
  *)
    exec "$@"
    ;;
esac

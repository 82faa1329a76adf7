"""gunicorn settings shared by every service's ``web`` process.

Workers and timeouts come from the environment (``MLP_WEB_WORKERS``,
``MLP_WEB_THREADS``, ``MLP_WEB_TIMEOUT``); metrics of all workers are
aggregated through prometheus-client's multiprocess mode.
"""

import importlib
import os
import shutil

from shared.config import load_web_server_settings, multiprocess_metrics_dir

_server = load_web_server_settings()
workers = _server.workers
threads = _server.threads
worker_class = "gthread"
timeout = _server.timeout_s
graceful_timeout = 20
keepalive = 5
accesslog = None  # the app logs every request as JSON (shared/web.py)
errorlog = "-"
# gunicorn's own lines as JSON too, like everything else the services log.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["stderr"], "level": "INFO"},
    "loggers": {
        "gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
# Requests larger than this never reach Flask (MAX_CONTENT_LENGTH guards bodies).
limit_request_line = 8190
# gunicorn's control socket is one per user by default: several services (and
# tests) on one machine would take it over from each other.
control_socket_disable = True

_metrics_dir = multiprocess_metrics_dir()


def _check_settings(app_uri: str) -> None:
    """Load the served service's settings once in the master: a refusal (bad or
    unsafe ``MLP_`` variables, a ``SystemExit``) stops gunicorn here with its
    sentence, where a worker dying at boot with it would be respawned for ever."""
    package = app_uri.partition(":")[0].rpartition(".")[0]  # services.events
    if package.startswith("services."):  # the benchmark's baseline app has none
        importlib.import_module(f"{package}.config").load_settings()


def on_starting(server: object) -> None:
    """Refuse bad settings before any worker starts; start with an empty metrics
    directory so old workers' samples do not linger."""
    _check_settings(server.app.app_uri)  # type: ignore[attr-defined]
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

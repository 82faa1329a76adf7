"""Settings loading: ``MLP_ENV=production`` refuses unsafe defaults at start,
in every service, with one sentence that names each variable to fix."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from deploy import catalog
from services.events import config as events_config
from services.notifications import domain
from services.notifications.config import load_settings as notifications_settings
from shared.config import DEVELOPMENT_JWT_SECRET

ROOT = Path(__file__).resolve().parents[2]
GOOD_JWT = "j" * 40
GOOD_UNSUBSCRIBE = "u" * 40
# What every service needs to start in production (notifications reads the second).
GOOD_KEYS = "2026-12:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # 32 bytes, base64
PRODUCTION = {
    "MLP_ENV": "production",
    "MLP_JWT_SECRET": GOOD_JWT,
    "MLP_UNSUBSCRIBE_SECRET": GOOD_UNSUBSCRIBE,
    "MLP_INTERNAL_TOPIC_KEYS": GOOD_KEYS,
    "MLP_ERASURE_SALT": "s" * 40,
}


def _load(service: str, environ: dict[str, str]):
    return importlib.import_module(f"services.{service}.config").load_settings(environ)


@pytest.mark.parametrize("service", catalog.names())
@pytest.mark.parametrize(
    ("jwt_secret", "why"),
    [
        (None, "MLP_JWT_SECRET is the development default"),
        (DEVELOPMENT_JWT_SECRET, "MLP_JWT_SECRET is the development default"),
        ("change-me-to-32-random-bytes-or-more", "MLP_JWT_SECRET is a placeholder"),
        ("31-bytes-are-not-enough-for-it", "MLP_JWT_SECRET is shorter than 32 bytes"),
    ],
)
def test_every_service_refuses_an_unsafe_jwt_secret_in_production(service, jwt_secret, why):
    environ = {k: v for k, v in PRODUCTION.items() if k != "MLP_JWT_SECRET"}
    if jwt_secret is not None:
        environ["MLP_JWT_SECRET"] = jwt_secret
    with pytest.raises(SystemExit) as refused:
        _load(service, environ)
    assert str(refused.value).startswith("MLP_ENV=production refuses to start: ")
    assert why in str(refused.value)


@pytest.mark.parametrize("service", catalog.names())
def test_every_service_starts_in_production_with_real_secrets_and_in_development_without(service):
    assert _load(service, PRODUCTION).env == "production"
    assert _load(service, {}).jwt_secret == DEVELOPMENT_JWT_SECRET  # make run: no friction


def test_a_misspelt_environment_is_refused_rather_than_treated_as_not_production():
    with pytest.raises(SystemExit, match="MLP_ENV must be one of development, test, production"):
        _load("events", {"MLP_ENV": "prod"})


@pytest.mark.parametrize(
    ("unsubscribe", "why"),
    [
        (None, "MLP_UNSUBSCRIBE_SECRET is the development default"),
        ("short", "MLP_UNSUBSCRIBE_SECRET is shorter than 32 bytes"),
        # An older key kept for links already mailed is held to the same rules.
        (f"{GOOD_UNSUBSCRIBE},{DEVELOPMENT_JWT_SECRET}", "MLP_UNSUBSCRIBE_SECRET is a placeholder"),
        (",", "MLP_UNSUBSCRIBE_SECRET names no key"),
    ],
)
def test_notifications_refuses_an_unsafe_unsubscribe_secret_in_production(unsubscribe, why):
    environ = {k: v for k, v in PRODUCTION.items() if k != "MLP_UNSUBSCRIBE_SECRET"}
    if unsubscribe is not None:
        environ["MLP_UNSUBSCRIBE_SECRET"] = unsubscribe
    with pytest.raises(SystemExit, match=why):
        notifications_settings(environ)


def test_loopback_webhooks_are_off_by_default_in_production_and_refused_when_asked_for():
    assert notifications_settings(PRODUCTION).webhook_allow_loopback is False
    assert notifications_settings({"MLP_ENV": "test"}).webhook_allow_loopback is True
    with pytest.raises(SystemExit, match="MLP_WEBHOOK_ALLOW_LOOPBACK is true"):
        notifications_settings({**PRODUCTION, "MLP_WEBHOOK_ALLOW_LOOPBACK": "true"})


def test_one_sentence_names_every_variable_to_fix():
    with pytest.raises(SystemExit) as refused:
        notifications_settings({"MLP_ENV": "production", "MLP_WEBHOOK_ALLOW_LOOPBACK": "1"})
    message = str(refused.value)
    named = (
        "MLP_JWT_SECRET",
        "MLP_UNSUBSCRIBE_SECRET",
        "MLP_WEBHOOK_ALLOW_LOOPBACK",
        "MLP_INTERNAL_TOPIC_KEYS",
        "MLP_ERASURE_SALT",
    )
    for variable in named:
        assert variable in message
    assert message.count(".") == 2 and message.endswith("docs/operations.md).")


def test_unsubscribe_links_are_signed_with_their_own_key_not_the_jwt_secret():
    settings = notifications_settings(PRODUCTION)
    token = domain.unsubscribe_token(settings.unsubscribe_keys, "ana@example.ee")
    assert domain.read_unsubscribe_token([GOOD_UNSUBSCRIBE], token) is not None
    assert domain.read_unsubscribe_token([settings.jwt_secret], token) is None
    # A link signed with the JWT secret (as before) is not honoured.
    forged = domain.unsubscribe_token([settings.jwt_secret], "ana@example.ee")
    assert domain.read_unsubscribe_token(settings.unsubscribe_keys, forged) is None


def _run(argv: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **environ}
    return subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_worker_process_refuses_before_it_connects_to_anything():
    out = _run([sys.executable, "-m", "services.notifications.worker"], {"MLP_ENV": "production"})
    assert out.returncode == 1
    assert "MLP_ENV=production refuses to start: MLP_JWT_SECRET" in out.stderr


def test_the_web_process_refuses_in_the_gunicorn_master_instead_of_respawning_workers():
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    argv = [gunicorn, "--config", "shared/gunicorn_conf.py", "--bind", "127.0.0.1:0"]
    out = _run([*argv, "services.events.app:create_app()"], {"MLP_ENV": "production"})
    assert out.returncode != 0
    assert "MLP_ENV=production refuses to start: MLP_JWT_SECRET" in out.stderr
    assert "Booting worker" not in out.stderr


def test_the_gunicorn_master_checks_only_the_settings_of_a_service():
    # The events benchmark serves its bare Flask+pymongo baseline under the
    # same configuration; it has no settings (bench.config does not exist).
    spec = importlib.util.spec_from_file_location("gunicorn_conf", "shared/gunicorn_conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    conf._check_settings("bench.baseline_app:create_app()")  # no ModuleNotFoundError


@pytest.mark.parametrize("service", catalog.names())
@pytest.mark.parametrize(
    ("salt", "why"),
    [
        (None, "MLP_ERASURE_SALT is the development default"),
        ("short", "MLP_ERASURE_SALT is shorter than 32 bytes"),
        ("x-change-me-" * 4, "MLP_ERASURE_SALT is a placeholder"),
    ],
)
def test_production_refuses_the_development_erasure_salt(service, salt, why):
    """The salt keys the hash that names an erased person: a published one lets
    anyone test addresses against the ledger."""
    environ = {k: v for k, v in PRODUCTION.items() if k != "MLP_ERASURE_SALT"}
    if salt is not None:
        environ["MLP_ERASURE_SALT"] = salt
    with pytest.raises(SystemExit, match=why):
        _load(service, environ)
    assert _load(service, PRODUCTION).erasure_salt == "s" * 40


def test_the_console_settings_are_read_once_with_the_local_stack_as_default():
    settings = events_config.load_settings({})
    assert dict(settings.ops_service_urls)["catalogue"] == "http://127.0.0.1:8006"
    assert settings.worker_url == "http://127.0.0.1:8101"
    assert (settings.dlq_redrive_rate, settings.dlq_redrive_max) == (20.0, 3)
    given = events_config.load_settings(
        {
            "MLP_OPS_SERVICE_URLS": "events=https://events.example/ , surveys=http://s:8005",
            "MLP_EVENTS_WORKER_METRICS_PORT": "0",
            "MLP_DLQ_REDRIVE_RATE": "2.5",
            "MLP_DLQ_REDRIVE_MAX": "5",
        }
    )
    assert given.ops_service_urls == (
        ("events", "https://events.example"),
        ("surveys", "http://s:8005"),
    )
    assert given.worker_url == ""  # no status port: the console shows "unknown"
    assert (given.dlq_redrive_rate, given.dlq_redrive_max) == (2.5, 5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MLP_OPS_SERVICE_URLS", "events"),
        ("MLP_OPS_SERVICE_URLS", "nosuch=http://x"),
        ("MLP_OPS_SERVICE_URLS", "events=ftp://x"),
        ("MLP_DLQ_REDRIVE_RATE", "0"),
        ("MLP_DLQ_REDRIVE_MAX", "0"),
    ],
)
def test_malformed_console_settings_stop_the_process(name, value):
    with pytest.raises(SystemExit, match=name):
        events_config.load_settings({name: value})

"""Kafka and MongoDB credentials: read once with the settings, refused when
malformed, handed to every Kafka client (shared.bus.client_config) and to the
MongoDB client, never printed with the settings."""

from __future__ import annotations

import pytest

from shared.bus import client_config
from shared.config import Env, Settings, common_settings
from shared.mongo import connect


def _settings(**environ: str) -> Settings:
    return Settings(**common_settings(Env(environ), "events", 8001))


def test_the_local_stack_needs_no_credentials():
    settings = _settings()
    config = client_config(settings)
    assert config["security_protocol"] == "PLAINTEXT"
    assert not any(key.startswith("sasl_") for key in config)
    assert config["bootstrap_timeout_ms"] == 10_000


def test_a_sasl_login_reaches_every_kafka_client():
    settings = _settings(
        MLP_KAFKA_SECURITY_PROTOCOL="sasl_ssl",
        MLP_KAFKA_USERNAME="svc-events",
        MLP_KAFKA_PASSWORD="s3cret",
        MLP_KAFKA_SSL_CAFILE="/etc/mlp/kafka-ca.pem",
        MLP_KAFKA_BOOTSTRAP_TIMEOUT_S="2.5",
    )
    assert client_config(settings) | {"bootstrap_servers": None} == {
        "bootstrap_servers": None,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "svc-events",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": "/etc/mlp/kafka-ca.pem",
        "bootstrap_timeout_ms": 2500,
        "reconnect_backoff_max_ms": 1000,
    }


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"MLP_KAFKA_SECURITY_PROTOCOL": "SSL_PLAIN"}, "MLP_KAFKA_SECURITY_PROTOCOL"),
        ({"MLP_KAFKA_SASL_MECHANISM": "GSSAPI"}, "MLP_KAFKA_SASL_MECHANISM"),
        ({"MLP_KAFKA_BOOTSTRAP_TIMEOUT_S": "soon"}, "MLP_KAFKA_BOOTSTRAP_TIMEOUT_S"),
    ],
)
def test_a_malformed_value_stops_the_process_naming_the_variable(environ, named):
    with pytest.raises(SystemExit, match=named):
        _settings(**environ)


def test_sasl_without_credentials_and_credentials_without_sasl_are_refused():
    with pytest.raises(SystemExit, match="needs MLP_KAFKA_USERNAME and MLP_KAFKA_PASSWORD"):
        client_config(_settings(MLP_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT"))
    with pytest.raises(SystemExit, match="PLAINTEXT"):
        client_config(_settings(MLP_KAFKA_USERNAME="svc-events", MLP_KAFKA_PASSWORD="x"))


def test_passwords_are_not_in_the_settings_repr():
    settings = _settings(MLP_KAFKA_PASSWORD="kafka-pw-123", MLP_MONGO_PASSWORD="mongo-pw-456")
    assert settings.kafka_password == "kafka-pw-123"
    assert "kafka-pw-123" not in repr(settings) and "mongo-pw-456" not in repr(settings)


def test_the_mongo_client_logs_in_as_the_services_user():
    settings = _settings(MLP_MONGO_USERNAME="svc-events", MLP_MONGO_PASSWORD="mongo-pw")
    client = connect(settings)
    try:
        credentials = client.options.pool_options._credentials
        assert (credentials.username, credentials.password) == ("svc-events", "mongo-pw")
        assert credentials.source == "admin"  # where mongo-init creates the users
    finally:
        client.close()
    anonymous = connect(_settings())
    try:
        assert anonymous.options.pool_options._credentials is None
    finally:
        anonymous.close()

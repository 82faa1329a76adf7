"""Kafka clients configured once for the whole platform, and provisioning:
topics, and (with ACLs) users and their grants (:mod:`shared.acls`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from shared.config import Env, Settings
from shared.topics import TOPIC_NAMES

log = logging.getLogger(__name__)

SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
DENIED = {TopicAuthorizationFailedError.errno, ClusterAuthorizationFailedError.errno}


def client_config(settings: Settings) -> dict[str, Any]:
    """Where and how every Kafka client of the platform connects: the bootstrap
    servers, TLS and the SASL login of ``MLP_KAFKA_SECURITY_PROTOCOL``, and a
    bounded bootstrap (a refused login shows as a timeout, never sooner)."""
    protocol = settings.kafka_security_protocol
    config: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": protocol,
        "bootstrap_timeout_ms": int(settings.kafka_bootstrap_timeout_s * 1000),
        "reconnect_backoff_max_ms": 1000,
    }
    if protocol in SASL_PROTOCOLS:
        if not settings.kafka_username or not settings.kafka_password:
            raise SystemExit(
                f"MLP_KAFKA_SECURITY_PROTOCOL={protocol} needs MLP_KAFKA_USERNAME and "
                "MLP_KAFKA_PASSWORD (the principal this process logs in as)."
            )
        config |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password,
        }
    elif settings.kafka_username:
        raise SystemExit(
            "MLP_KAFKA_USERNAME is set but MLP_KAFKA_SECURITY_PROTOCOL is PLAINTEXT: "
            "set SASL_PLAINTEXT or SASL_SSL, or drop the credentials."
        )
    if protocol.endswith("SSL") and settings.kafka_ssl_cafile:
        config["ssl_cafile"] = settings.kafka_ssl_cafile
    return config


def make_producer(settings: Settings, **overrides: object) -> KafkaProducer:
    """The idempotent producer: ``acks=all``, ordered per partition, batched."""
    config: dict[str, object] = {
        **client_config(settings),
        "client_id": f"mlp-{settings.service}",
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 2,
        "max_block_ms": 10_000,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
    }
    config.update(overrides)
    return KafkaProducer(**config)


# A member that died without leaving is noticed within this long (the broker's
# group.min.session.timeout.ms is 6 s); the heartbeat thread beats five times in it.
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 2_000


def make_consumer(
    settings: Settings,
    group: str,
    topics: list[str],
    listener: ConsumerRebalanceListener | None = None,
) -> KafkaConsumer:
    """A consumer that commits by hand, only after the effects are stored; a dynamic
    member of ``group`` that leaves it on close. ``listener`` hears of assignments.

    Not a static member (``group.instance.id``): with kafka-python 3.0 a static
    leader that rejoins after a crash is given no partitions and keeps none (its
    JoinGroup v7 predates the broker's SkipAssignment), so a crash costs one
    session timeout instead."""
    consumer = KafkaConsumer(
        **client_config(settings),
        client_id=f"mlp-{settings.service}-worker",
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=200,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )
    consumer.subscribe(topics, listener=listener)
    return consumer


def make_admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(
        **client_config(settings),
        client_id=f"mlp-{settings.service}-admin",
        request_timeout_ms=10_000,
    )


def _connect_admin(settings: Settings, deadline: float) -> KafkaAdminClient:
    """An admin client, once the broker answers (and accepts the login)."""
    while True:
        try:
            return make_admin(settings)
        except KafkaError as exc:
            if time.monotonic() > deadline:
                login = f" as {settings.kafka_username}" if settings.kafka_username else ""
                raise SystemExit(
                    f"Kafka at {settings.kafka_bootstrap} is not reachable{login} ({exc}); "
                    "start it (make run does), or check MLP_KAFKA_BOOTSTRAP and the "
                    "credentials (MLP_KAFKA_USERNAME, MLP_KAFKA_PASSWORD)."
                ) from exc
            time.sleep(1.0)


def topic_spec(settings: Settings, name: str) -> dict[str, Any]:
    """How a catalogue topic is created: partitions, replication, and for an
    ``internal.`` topic its own retention (``MLP_INTERNAL_TOPIC_RETENTION_DAYS``),
    so that a month's sealing key may be destroyed that long after the month."""
    spec: dict[str, Any] = {
        "num_partitions": settings.kafka_partitions,
        "replication_factor": settings.kafka_replication,
    }
    if name.startswith("internal."):
        days = settings.internal_topic_retention_days
        spec["configs"] = {"retention.ms": str(days * 24 * 3600 * 1000)}
    return spec


def ensure_topics(
    settings: Settings, timeout_s: float = 60.0, needed: Iterable[str] | None = None
) -> list[str]:
    """Create every catalogue topic that does not exist yet; return those created.

    Waits up to ``timeout_s`` for the broker, so a worker started together with
    Kafka simply waits for it, and until the ``needed`` topics (default: the
    whole catalogue) exist. A principal that may not create topics (with ACLs,
    only the provisioning job may) is no error: it waits for the provisioner.
    """
    required = set(TOPIC_NAMES if needed is None else needed)
    deadline = time.monotonic() + timeout_s
    admin = _connect_admin(settings, deadline)
    created: list[str] = []
    refused: dict[str, str] = {}
    may_create, warned = True, False
    try:
        while True:
            try:
                # With ACLs a principal lists only the topics it may describe, and
                # creating one that exists unseen is refused like any other.
                missing = sorted(TOPIC_NAMES - set(admin.list_topics()))
                if missing and may_create:
                    spec = {name: topic_spec(settings, name) for name in missing}
                    result = admin.create_topics(spec, raise_errors=False)["topics"]
                    created += [t["name"] for t in result if t["error_code"] == 0]
                    may_create = not all(t["error_code"] in DENIED for t in result)
                    refused = {
                        t["name"]: t["error_message"] or f"error {t['error_code']}"
                        for t in result
                        if t["error_code"] not in (0, TopicAlreadyExistsError.errno)
                    }
                waiting = sorted(required - set(admin.list_topics()))
            except KafkaError as exc:
                # A broker that died or restarted after the connection was made:
                # the next one answers once the cluster has moved its leaders.
                if not exc.retriable or time.monotonic() > deadline:
                    raise SystemExit(
                        f"Kafka at {settings.kafka_bootstrap} stopped answering ({exc})."
                    ) from exc
                log.warning("Kafka did not answer; asking again", extra={"error": str(exc)})
                time.sleep(1.0)
                continue
            if not waiting:
                break
            if not may_create and not warned:
                warned = True
                log.warning(
                    "this principal may not create topics; waiting for the provisioning "
                    "job (python -m shared.bus provision) to create them",
                    extra={"principal": settings.kafka_username, "topics": waiting},
                )
            if time.monotonic() > deadline:
                if not may_create:
                    raise SystemExit(
                        f"Topics {waiting} do not exist and {settings.kafka_username} may not "
                        "create them: run the provisioning job (python -m shared.bus "
                        "provision) against this Kafka first."
                    )
                reasons = {name: refused[name] for name in waiting if name in refused}
                raise SystemExit(f"Kafka refused to create topics {waiting}: {reasons}.")
            time.sleep(0.5 if may_create else 1.0)
        if created:
            log.info("created topics", extra={"topics": created})
        return created
    finally:
        admin.close()


def _passwords(users: Mapping[str, str], env: Env) -> dict[str, str]:
    """Each user's password, from the variable the model names for it."""
    found = {user: env.other(variable) for user, variable in users.items()}
    missing = sorted(users[user] for user, password in found.items() if not password)
    if missing:
        raise SystemExit(f"Set {', '.join(missing)}: the passwords of the Kafka users.")
    return {user: password for user, password in found.items() if password}


@contextmanager
def _admin_session(settings: Settings, timeout_s: float) -> Iterator[KafkaAdminClient]:
    admin = _connect_admin(settings, time.monotonic() + timeout_s)
    try:
        yield admin
    finally:
        admin.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m shared.bus provision`` and ``python -m shared.bus partner``.

    ``provision`` creates the catalogue topics, then exits: the one-shot step of
    docker-compose.yml (``kafka-init``) and of Kubernetes (the ``kafka-init``
    Job). With ``--acls <model.json>`` (``deploy/kafka-acls.json``) it also
    sets the SCRAM users and the ACLs of the model, each user's password read
    from the variable the model names (``MLP_<SERVICE>_KAFKA_PASSWORD``).
    ``partner <name>`` creates or updates the principal ``partner-<name>``
    (password from ``MLP_KAFKA_PARTNER_PASSWORD``) with its read-only grants;
    ``--revoke`` deletes it. Both log in with ``MLP_KAFKA_*`` as the admin.
    """
    import argparse
    import sys
    from pathlib import Path

    from shared import acls
    from shared.config import tool_settings

    parser = argparse.ArgumentParser(prog="python -m shared.bus")
    sub = parser.add_subparsers(dest="command", required=True)
    provision = sub.add_parser("provision", help="create the topics (and users and ACLs)")
    provision.add_argument("--timeout", type=float, default=120.0, help="wait for Kafka, seconds")
    provision.add_argument("--acls", type=Path, help="the ACL model to apply (JSON)")
    partner = sub.add_parser("partner", help="add, update or --revoke a partner principal")
    partner.add_argument("name", help="the partner, e.g. acme: principal partner-acme")
    partner.add_argument("--revoke", action="store_true", help="delete its ACLs and credential")
    partner.add_argument("--timeout", type=float, default=60.0, help="wait for Kafka, seconds")
    args = parser.parse_args(argv)
    env = Env()
    settings = tool_settings(args.command, env.environ)
    out = sys.stdout

    if args.command == "provision":
        if args.acls and not args.acls.is_file():
            parser.error(f"--acls {args.acls}: no such file")
        model = acls.AclModel.from_json(args.acls.read_text()) if args.acls else None
        passwords = _passwords(model.users, env) if model else {}
        created = ensure_topics(settings, timeout_s=args.timeout)
        out.write(
            f"{len(TOPIC_NAMES)} topics in the catalogue; created {len(created)}: "
            f"{', '.join(created)}\n"
        )
        if model is not None:
            with _admin_session(settings, args.timeout) as admin:
                done = acls.apply(admin, model, passwords)
            out.write(f"users and ACLs of {args.acls}: {done}\n")
        return

    try:
        principal = acls.partner_principal(args.name)
    except ValueError as exc:
        parser.error(str(exc))
    with _admin_session(settings, args.timeout) as admin:
        if args.revoke:
            out.write(f"{principal}: deleted {acls.revoke(admin, principal)} ACLs\n")
            return
        model = acls.partner_model(args.name, "MLP_KAFKA_PARTNER_PASSWORD")
        done = acls.apply(admin, model, _passwords(model.users, env))
        out.write(f"{principal}: {done}\n")


if __name__ == "__main__":
    main()

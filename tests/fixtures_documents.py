"""Fixtures and helpers of the documents service's tests (import what you use)."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.documents.app import create_app
from services.documents.handlers import subscriptions
from shared.consumer import HandlerContext
from shared.envelope import Envelope
from shared.mongo import in_transaction
from tests.helpers import running_app, service_env, settings_for

PDF_BYTES = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def ooxml(part: str = "word/document.xml") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(part, "<doc/>")
    return buffer.getvalue()


def odf(mimetype: str = "application/vnd.oasis.opendocument.text") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", mimetype)
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


@pytest.fixture
def documents_env(kafka, mongo, monkeypatch) -> dict[str, str]:
    env = service_env("documents", kafka.bootstrap, mongo.uri)
    settings_for("documents", env, monkeypatch)
    return env


@pytest.fixture
def documents_app(documents_env) -> Iterator[Flask]:
    with running_app(create_app) as app:
        yield app


@pytest.fixture
def docs(documents_app) -> FlaskClient:
    return documents_app.test_client()


def deliver(app: Flask, topic: str, data: dict[str, Any], ce_id: str | None = None) -> None:
    """Run the service's handler for ``topic`` on ``data`` in one transaction, as the
    consumer runner does (the runner's own idempotency is tested in shared/)."""
    runtime = app.extensions["mlp"]
    record = Envelope(
        id=ce_id or str(uuid.uuid4()),
        type=topic,
        source="/mlp/tests",
        subject=None,
        time=datetime.now(UTC),
        key=str(data.get("event_id")),
        data=data,
        correlation_id=None,
        causation_id=None,
        traceparent=None,
    )
    handler = subscriptions.handlers[topic]

    def work(session):
        handler(record, HandlerContext(db=runtime.db, session=session, outbox=runtime.outbox))

    in_transaction(runtime.client, work)


def known_event(app: Flask, event_id: str | None = None, **fields: Any) -> str:
    event_id = event_id or str(uuid.uuid4())
    data = {
        "event_id": event_id,
        "status": "published",
        "title": "Skills forecasting",
        "starts_on": "2027-03-10",
        "ends_on": "2027-03-11",
        "version": 1,
        **fields,
    }
    deliver(app, "event.created", data)
    return event_id


def invite(
    app: Flask, event_id: str, email: str, status: str = "accepted", version: int = 2
) -> str:
    """An invitation of ``email`` to ``event_id`` with ``status`` in the read model."""
    invitation_id = str(uuid.uuid4())
    deliver(
        app,
        "internal.invitation.issued",
        {"invitation_id": invitation_id, "event_id": event_id, "email": email, "version": 1},
    )
    set_invitation(app, invitation_id, event_id, status, version)
    return invitation_id


def set_invitation(app: Flask, invitation_id: str, event_id: str, status: str, version: int):
    deliver(
        app,
        f"invitation.{status if status != 'pending' else 'sent'}",
        {
            "invitation_id": invitation_id,
            "event_id": event_id,
            "country": "LV",
            "role": "government_official",
            "status": status,
            "version": version,
        },
    )


def upload(
    client: FlaskClient,
    event_id: str,
    headers: dict[str, str],
    content: bytes = PDF_BYTES,
    filename: str = "paper.pdf",
    **fields: Any,
):
    form: dict[str, Any] = {
        "kind": "host_country_paper",
        "title": "Host country discussion paper",
        "language": "en",
        **fields,
    }
    if content is not None:
        form["file"] = (io.BytesIO(content), filename)
    return client.post(
        f"/v1/events/{event_id}/documents",
        data=form,
        headers=headers,
        content_type="multipart/form-data",
    )

"""Sealing the personal fields of internal records (shared/sealing.py): round
trip, rotation, binding to the record, unknown keys, the key ring's settings,
and which fields the published schemas mark personal."""

from __future__ import annotations

import base64
import copy
import json
import os

import pytest
from marshmallow import fields

from devkit.samples import issued_payload
from shared.config import DEVELOPMENT_JWT_SECRET, Env, internal_topic_keys
from shared.payloads import personal_fields
from shared.sealing import (
    DEVELOPMENT_KEYS,
    DEVELOPMENT_KEYS_VALUE,
    SEALED,
    KeyRing,
    NotSealed,
    Tampered,
    UnknownKey,
    open_payload,
    personal_values,
    redact,
    seal_payload,
    sealed_fields,
)
from shared.topics import TOPICS

TOPIC = "internal.invitation.issued"
EMAIL = "kadri.tamm@sm.example.ee"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _ring(*ids: str) -> tuple[KeyRing, str]:
    text = ",".join(f"{kid}:{_key()}" for kid in ids)
    return KeyRing.parse(text), text


def _payload() -> dict:
    return issued_payload("evt-1", "inv-1", EMAIL)


def _seal(keys: KeyRing, ce_id: str = "ce-1", topic: str = TOPIC, payload: dict | None = None):
    return seal_payload(keys, topic=topic, ce_id=ce_id, payload=payload or _payload())


def _open(keys: KeyRing, wire: dict, kid: str | None, ce_id: str = "ce-1", topic: str = TOPIC):
    return open_payload(keys, topic=topic, ce_id=ce_id, data=wire, key_id=kid)


def test_round_trip_leaves_nothing_personal_in_clear_and_keeps_the_rest():
    keys, _ = _ring("2026-12")
    payload = _payload()
    wire, kid = _seal(keys, payload=payload)
    assert kid == "2026-12" and wire[SEALED]["kid"] == "2026-12"
    assert wire[SEALED]["alg"] == "A256GCM"
    text = json.dumps(wire)
    for secret in (EMAIL, "Kadri Tamm", "Ministry of Social Affairs", "/v1/rsvp/"):
        assert secret not in text
    # Blank in place: every required field of the published schema is still there.
    assert wire["email"] == wire["name"] == wire["rsvp_url"] == wire["organisation"] == ""
    assert wire["invitation_id"] == "inv-1" and wire["country"] == "EE"
    assert _open(keys, wire, kid) == payload


def test_two_seals_of_one_payload_differ():
    keys, _ = _ring("k")
    first, _ = _seal(keys)
    second, _ = _seal(keys)
    assert first[SEALED]["nonce"] != second[SEALED]["nonce"]
    assert first[SEALED]["ciphertext"] != second[SEALED]["ciphertext"]


def test_rotation_the_first_key_seals_and_an_old_one_still_opens():
    old_ring, old_text = _ring("2026-11")
    wire, kid = _seal(old_ring)
    rotated = KeyRing.parse(f"2026-12:{_key()},{old_text}")
    assert rotated.current_id == "2026-12"
    assert _open(rotated, wire, kid)["email"] == EMAIL  # sealed before the rotation
    new_wire, new_kid = _seal(rotated)
    assert new_kid == "2026-12"
    assert _open(rotated, new_wire, new_kid)["email"] == EMAIL


def test_a_destroyed_key_is_an_unknown_key_with_a_clear_error():
    old_ring, _ = _ring("2026-10")
    wire, kid = _seal(old_ring)
    shredded, _ = _ring("2026-12", "2026-11")
    with pytest.raises(UnknownKey, match=r"'2026-10'.*does not hold.*'2026-12', '2026-11'"):
        _open(shredded, wire, kid)


def test_the_blob_is_bound_to_its_record():
    keys, _ = _ring("k")
    wire, kid = _seal(keys, ce_id="ce-1")
    with pytest.raises(Tampered):  # moved to another record of the topic
        _open(keys, wire, kid, ce_id="ce-2")
    other_topic = "internal.document.reminder_due"
    with pytest.raises(Tampered):  # moved to another topic with personal fields
        _open(keys, wire, kid, topic=other_topic)
    altered = copy.deepcopy(wire)
    ct = base64.urlsafe_b64decode(altered[SEALED]["ciphertext"] + "==")
    altered[SEALED]["ciphertext"] = (
        base64.urlsafe_b64encode(bytes([ct[0] ^ 1]) + ct[1:]).decode().rstrip("=")
    )
    with pytest.raises(Tampered):
        _open(keys, altered, kid)
    same_id_other_key = KeyRing.parse(f"k:{_key()}")
    with pytest.raises(Tampered):
        _open(same_id_other_key, wire, kid)


def test_the_key_id_header_must_name_the_blobs_key():
    keys, _ = _ring("a", "b")
    wire, _kid = _seal(keys)
    with pytest.raises(Tampered, match="mlp_key_id"):
        _open(keys, wire, "b")
    with pytest.raises(Tampered, match="mlp_key_id"):
        _open(keys, wire, None)


def test_a_clear_or_malformed_record_of_a_sealed_topic_is_refused():
    keys, _ = _ring("k")
    with pytest.raises(NotSealed):
        _open(keys, _payload(), None)
    wire, kid = _seal(keys)
    for broken in ({"alg": "none"}, "a string", {**wire[SEALED], "nonce": "***"}):
        with pytest.raises(Tampered):
            _open(keys, {**wire, SEALED: broken}, kid)


def test_topics_without_personal_fields_travel_as_they_are():
    keys, _ = _ring("k")
    payload = {"event_id": "evt-1", "title": "Peer review"}
    assert seal_payload(keys, topic="event.created", ce_id="c", payload=payload) == (payload, None)
    assert open_payload(keys, topic="event.created", ce_id="c", data=payload, key_id=None) == (
        payload
    )


def test_reminder_recipients_are_sealed_as_a_whole():
    keys, _ = _ring("k")
    payload = {
        "event_id": "evt-1",
        "recipients": [{"email": "host@example.ee", "name": "Host", "language": "et"}],
        "title": "t",
    }
    topic = "internal.document.reminder_due"
    wire, kid = seal_payload(keys, topic=topic, ce_id="c", payload=payload)
    assert wire["recipients"] == [] and "host@example.ee" not in json.dumps(wire)
    opened = open_payload(keys, topic=topic, ce_id="c", data=wire, key_id=kid)
    assert opened == payload
    assert personal_values(topic, opened) == ["host@example.ee", "Host"]


def test_personal_fields_are_marked_only_on_internal_topics_and_can_be_blanked():
    marked = {t.name: sealed_fields(t.name) for t in TOPICS if sealed_fields(t.name)}
    assert marked == {
        "internal.invitation.issued": ("email", "name", "organisation", "rsvp_url"),
        "internal.document.reminder_due": ("recipients",),
        "internal.proposal.decided": ("reason", "recipients"),
        "internal.registration.requested": ("email", "name", "confirm_url"),
        "internal.registration.rejected": ("email", "name", "reason"),
        "internal.nomination.requested": ("recipients",),
        "internal.nomination.decided": ("nominee_name", "reason", "moved_up_name", "recipients"),
        "internal.nomination.place_freed": (
            "nominee_name",
            "reason",
            "moved_up_name",
            "recipients",
        ),
        "internal.survey.link_issued": ("survey_url",),  # a one-time credential
        "internal.person.erasure_requested": ("email", "accounts"),  # the person erased
    }
    for topic in TOPICS:
        if topic.schema is None:
            continue
        for name, field in topic.schema().fields.items():
            if name in personal_fields(topic.schema):
                assert isinstance(field, fields.String | fields.List), (topic.name, name)


def test_redact_replaces_every_personal_value():
    opened = _payload()
    values = personal_values(TOPIC, opened)
    text = f"ValueError: cannot mail Kadri Tamm <{EMAIL}> at {opened['rsvp_url']}"
    cleaned = redact(text, values)
    assert EMAIL not in cleaned and "Kadri Tamm" not in cleaned and "/rsvp/" not in cleaned
    assert cleaned.startswith("ValueError: cannot mail [personal]")


# --- the key ring as a setting ------------------------------------------------------


def test_parse_accepts_standard_and_url_safe_base64_and_keeps_the_order():
    raw = os.urandom(32)
    keys = KeyRing.parse(
        f" 2026-12 : {base64.urlsafe_b64encode(raw).decode().rstrip('=')} ,"
        f"2026-11:{base64.b64encode(os.urandom(32)).decode()}"
    )
    assert keys.ids == ("2026-12", "2026-11") and keys.keys[0][1] == raw
    assert "2026-12" in repr(keys) and base64.b64encode(raw).decode() not in repr(keys)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "entry 1"),
        ("2026-12", "entry 1"),
        (f"2026-12:{_key()},oops", "entry 2"),
        ("2026-12:not base64!", "not base64"),
        (f"2026-12:{base64.b64encode(b'short').decode()}", "has 5 bytes"),
        (f"2026-12:{_key()},2026-12:{_key()}", "twice"),
        (f"a b:{_key()}", "key id"),
    ],
    ids=["empty", "no key", "second entry", "not base64", "short key", "twice", "bad key id"],
)
def test_parse_refuses_a_malformed_ring_without_echoing_key_material(text, why):
    with pytest.raises(ValueError, match=why) as caught:
        KeyRing.parse(text)
    for _kid, sep, encoded in (entry.partition(":") for entry in text.split(",")):
        if sep and len(encoded) > 8:
            assert encoded.strip() not in str(caught.value)


def test_development_and_tests_fall_back_on_the_published_development_key():
    for deployment in ("development", "test"):
        assert internal_topic_keys(Env({}), deployment) is DEVELOPMENT_KEYS
    assert KeyRing.parse(DEVELOPMENT_KEYS_VALUE) == DEVELOPMENT_KEYS


def test_production_refuses_to_start_without_keys_or_with_the_development_key():
    from services.events.config import load_settings

    production = {"MLP_ENV": "production", "MLP_JWT_SECRET": "s" * 48}
    with pytest.raises(SystemExit, match="MLP_INTERNAL_TOPIC_KEYS is not set"):
        load_settings(production)
    with_development_key = f"2026-12:{_key()},{DEVELOPMENT_KEYS_VALUE}"
    with pytest.raises(SystemExit, match="development key"):
        load_settings({**production, "MLP_INTERNAL_TOPIC_KEYS": with_development_key})
    with pytest.raises(SystemExit, match="MLP_INTERNAL_TOPIC_KEYS: entry 1"):
        internal_topic_keys(Env({"MLP_INTERNAL_TOPIC_KEYS": "garbage"}), "production")
    keys, text = _ring("2026-12", "2026-11")
    assert internal_topic_keys(Env({"MLP_INTERNAL_TOPIC_KEYS": text}), "production") == keys


def test_every_service_reads_the_ring_into_its_settings():
    from tests.helpers import service_settings

    keys, text = _ring("2026-12")
    env = {"MLP_INTERNAL_TOPIC_KEYS": text, "MLP_JWT_SECRET": DEVELOPMENT_JWT_SECRET}
    for service in ("events", "invitations", "documents", "notifications"):
        settings = service_settings(service, env)
        assert settings.internal_topic_keys == keys
        assert text.split(":", 1)[1] not in repr(settings)


def test_a_service_refuses_to_start_in_production_without_keys_but_a_tool_needs_none():
    from services.events.config import load_settings
    from shared.config import tool_settings
    from shared.sealing import NO_KEYS, SealingError

    production = {"MLP_ENV": "production", "MLP_JWT_SECRET": "s" * 48}
    with pytest.raises(SystemExit, match="MLP_INTERNAL_TOPIC_KEYS is not set"):
        load_settings(production)
    tool = tool_settings("events", production)  # topic provisioning, dead-letter replay
    assert tool.internal_topic_keys == NO_KEYS
    with pytest.raises(SealingError, match="no key to seal with"):
        _seal(NO_KEYS)
    with pytest.raises(UnknownKey):
        _open(NO_KEYS, _seal(DEVELOPMENT_KEYS)[0], "development")


def test_a_month_key_is_destroyable_once_the_internal_topics_retention_passed():
    from datetime import date

    from shared.sealing import destroyable_keys

    ring = KeyRing(
        (("2027-02", b"a" * 32), ("2027-01", b"b" * 32), ("2026-12", b"c" * 32),
         ("legacy", b"d" * 32))
    )  # fmt: skip
    assert destroyable_keys(ring, date(2027, 1, 7), 7) == []  # December's records may live
    assert destroyable_keys(ring, date(2027, 1, 8), 7) == ["2026-12"]
    assert destroyable_keys(ring, date(2027, 3, 31), 7) == ["2027-01", "2026-12"]
    assert "2027-02" not in destroyable_keys(ring, date(2028, 1, 1), 7)  # it seals


def test_internal_topics_are_created_with_their_own_retention():
    from shared.bus import topic_spec
    from shared.config import Settings

    settings = Settings(internal_topic_retention_days=3)
    internal = topic_spec(settings, "internal.person.erasure_requested")
    assert internal["configs"] == {"retention.ms": str(3 * 86_400_000)}
    assert "configs" not in topic_spec(settings, "invitation.accepted")

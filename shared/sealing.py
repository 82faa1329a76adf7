"""Sealing the personal fields of internal records: AES-256-GCM, keys by id.

The fields a published schema marks personal (``metadata={"personal": True}``,
:data:`shared.payloads.PERSONAL`) never rest or travel in clear. When an outbox
record is written (:class:`shared.outbox.Outbox`), they are encrypted together
as one JSON object into the payload's ``sealed`` field and left blank in place
(``""`` or ``[]``, so the payload keeps every required field of its published
schema); the consumer runner opens them again before the payload is loaded
through its schema. A broker dump, a dead-letter replay file, a wrong ACL or a
look into the outbox collection shows the blanks and a ciphertext.

The associated data binds a ciphertext to its record (topic, ``ce_id``, key
id): a sealed blob copied into another record, or a key id header changed,
does not open. The key id travels in the blob and in the ``mlp_key_id`` header.

Keys come from ``MLP_INTERNAL_TOPIC_KEYS`` (``id:base64,id:base64``, see
:meth:`KeyRing.parse`): the first seals, every one opens, so a new key is
deployed second everywhere first, then moved to the front; a key removed from
the ring (crypto-shredding, month by month) makes its records unreadable, and
the runner dead-letters them with :class:`UnknownKey`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from marshmallow import Schema, ValidationError, fields, validate

from shared.payloads import personal_fields
from shared.topics import TOPIC_BY_NAME

SEALED = "sealed"  # the payload field that holds the sealed blob
KEY_ID_HEADER = "mlp_key_id"
ALGORITHM = "A256GCM"
AAD_LABEL = "mlp-sealed/1"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

DEVELOPMENT_KEY_ID = "development"
DEVELOPMENT_KEY = b"mlp-development-key-not-secret!!"  # 32 bytes, published in the docs
DEVELOPMENT_KEYS_VALUE = f"{DEVELOPMENT_KEY_ID}:{base64.b64encode(DEVELOPMENT_KEY).decode()}"


class SealingError(ValueError):
    """A record's sealed fields cannot be opened: the record is dead-lettered."""


class NotSealed(SealingError):
    """A record of a topic with personal fields came without its ``sealed`` blob."""


class UnknownKey(SealingError):
    """The record is sealed with a key the ring does not hold (destroyed or not yet deployed)."""


class Tampered(SealingError):
    """The blob does not open: altered, moved from another record, or a wrong key."""


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padded or not; ``binascii.Error`` otherwise."""
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass(frozen=True)
class KeyRing:
    """AES-256-GCM keys by id: the first seals, every one opens."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        ids = [kid for kid, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError(f"a key id appears twice: {ids}")
        for kid, key in self.keys:
            if not KEY_ID.match(kid):
                raise ValueError(f"key id {kid!r}: use letters, digits, '.', '_' or '-'")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}")

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """``"2026-12:<base64 of 32 bytes>,2026-11:<...>"``; raises ``ValueError``
        with a sentence that names the bad entry but never a key."""
        keys = []
        for position, entry in enumerate(text.split(","), start=1):
            kid, sep, encoded = entry.strip().partition(":")
            if not sep or not kid.strip() or not encoded.strip():
                raise ValueError(f"entry {position} is not <key id>:<base64 key>")
            try:
                key = _b64decode(encoded)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"the key of {kid.strip()!r} is not base64") from exc
            keys.append((kid.strip(), key))
        return cls(tuple(keys))

    def __repr__(self) -> str:
        return f"KeyRing(ids={list(self.ids)})"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

    def _sealing_key(self) -> tuple[str, bytes]:
        if not self.keys:
            raise SealingError("no key to seal with: MLP_INTERNAL_TOPIC_KEYS is not set")
        return self.keys[0]

    @property
    def current_id(self) -> str:
        """The id of the key that seals."""
        return self._sealing_key()[0]

    def holds_development_key(self) -> bool:
        return any(key == DEVELOPMENT_KEY for _, key in self.keys)

    def seal(self, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
        """``(nonce, ciphertext with tag)`` under the current key."""
        key = self._sealing_key()[1]
        nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: far below 2**32 per key
        return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)

    def open(self, kid: str, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        key = dict(self.keys).get(kid)
        if key is None:
            raise UnknownKey(
                f"sealed with key {kid!r}, which MLP_INTERNAL_TOPIC_KEYS does not hold "
                f"(destroyed, or not deployed here yet); it holds {list(self.ids)}"
            )
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag as exc:
            raise Tampered(
                f"the sealed fields do not open with key {kid!r}: altered, copied from "
                "another record, or sealed with another key of that id"
            ) from exc


MONTH_KEY_ID = re.compile(r"^(\d{4})-(\d{2})$")


def destroyable_keys(ring: KeyRing, today: date, retention_days: int) -> list[str]:
    """The month keys (ids ``YYYY-MM``) no record can still need: their month
    ended more than ``retention_days`` (the internal topics' retention) ago, and
    they do not seal. Remove them from the ring (crypto-shredding) once the
    outboxes are drained and no dead letter holds them (docs/operations.md)."""
    found = []
    for kid in ring.ids[1:]:  # the first key seals
        match = MONTH_KEY_ID.match(kid)
        if not match:
            continue
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            continue
        first_of_next = date(year + month // 12, month % 12 + 1, 1)
        if today >= first_of_next + timedelta(days=retention_days):
            found.append(kid)
    return found


DEVELOPMENT_KEYS = KeyRing(((DEVELOPMENT_KEY_ID, DEVELOPMENT_KEY),))
"""The fixed ring of development and tests (documented, never secret)."""
NO_KEYS = KeyRing(())
"""The ring of a tool that never seals or opens (topic provisioning, dead-letter replay)."""


class SealedSchema(Schema):
    """The ``sealed`` field: the topic's personal fields as one JSON object,
    encrypted with AES-256-GCM; the associated data is the JSON array
    ``["mlp-sealed/1", <topic>, <ce_id>, <kid>]``."""

    alg = fields.String(required=True, validate=validate.Equal(ALGORITHM))
    kid = fields.String(
        required=True,
        validate=validate.Regexp(KEY_ID),
        metadata={"description": "The key id; the `mlp_key_id` header repeats it."},
    )
    nonce = fields.String(
        required=True, metadata={"description": "96-bit nonce, base64url without padding."}
    )
    ciphertext = fields.String(
        required=True,
        metadata={"description": "Ciphertext and 128-bit tag, base64url without padding."},
    )


_sealed_schema = SealedSchema()


@cache
def sealed_fields(topic: str) -> tuple[str, ...]:
    """The fields of ``topic``'s payload that travel sealed (none for most topics)."""
    info = TOPIC_BY_NAME.get(topic)
    return () if info is None or info.schema is None else personal_fields(info.schema)


def blank(value: Any) -> Any:
    """What a sealed field holds in clear: the empty value of its type."""
    if value is None:
        return None
    if isinstance(value, str):
        return ""
    if isinstance(value, list):
        return []
    raise TypeError(f"a personal field must be a string or a list, not {type(value).__name__}")


def _aad(topic: str, ce_id: str, kid: str) -> bytes:
    return json.dumps([AAD_LABEL, topic, ce_id, kid], separators=(",", ":")).encode()


def seal_payload(
    keys: KeyRing, *, topic: str, ce_id: str, payload: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """``payload`` with its personal fields sealed, and the key id (None when
    ``topic`` has no personal fields: the payload is returned as it is)."""
    if not sealed_fields(topic):
        return payload, None
    names = [name for name in sealed_fields(topic) if name in payload]
    secret = {name: payload[name] for name in names}
    plaintext = json.dumps(secret, separators=(",", ":"), ensure_ascii=False).encode()
    kid = keys.current_id
    nonce, ciphertext = keys.seal(plaintext, _aad(topic, ce_id, kid))
    wire = {**payload, **{name: blank(payload[name]) for name in names}}
    wire[SEALED] = {
        "alg": ALGORITHM,
        "kid": kid,
        "nonce": _b64encode(nonce),
        "ciphertext": _b64encode(ciphertext),
    }
    return wire, kid


def open_payload(
    keys: KeyRing,
    *,
    topic: str,
    ce_id: str,
    data: dict[str, Any],
    key_id: str | None,
) -> dict[str, Any]:
    """``data`` as it was before :func:`seal_payload`; ``key_id`` is the
    ``mlp_key_id`` header. Raises :class:`SealingError` when it cannot be opened."""
    names = sealed_fields(topic)
    if not names:
        return data
    blob = data.get(SEALED)
    if blob is None:
        raise NotSealed(f"a record of {topic} must carry its personal fields sealed")
    try:
        sealed = _sealed_schema.load(blob)
        nonce, ciphertext = _b64decode(sealed["nonce"]), _b64decode(sealed["ciphertext"])
    except (ValidationError, binascii.Error, ValueError, TypeError) as exc:
        raise Tampered(f"the sealed blob is malformed: {exc}") from exc
    if key_id != sealed["kid"]:
        raise Tampered(f"the {KEY_ID_HEADER} header {key_id!r} is not the blob's key id")
    plaintext = keys.open(sealed["kid"], nonce, ciphertext, _aad(topic, ce_id, sealed["kid"]))
    secret = json.loads(plaintext)
    if not isinstance(secret, dict) or not set(secret) <= set(names):
        raise Tampered(f"the sealed fields are not fields of {topic} marked personal")
    opened = {k: v for k, v in data.items() if k != SEALED}
    opened.update(secret)
    return opened


def personal_values(topic: str, data: dict[str, Any]) -> list[str]:
    """Every string inside the opened personal fields of ``data`` (to keep them
    out of error texts that travel in clear)."""

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    found = [s for name in sealed_fields(topic) for s in strings(data.get(name))]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def redact(text: str, values: list[str]) -> str:
    """``text`` with each of ``values`` replaced by ``[personal]``."""
    for value in values:
        text = text.replace(value, "[personal]")
    return text


def main(argv: list[str] | None = None) -> None:
    """``python -m shared.sealing destroyable``: the ids of the ring's month keys
    (``MLP_INTERNAL_TOPIC_KEYS``) that may be destroyed today, one a line."""
    import argparse
    import sys

    from shared.config import tool_settings

    parser = argparse.ArgumentParser(prog="python -m shared.sealing")
    parser.add_argument("command", choices=["destroyable"])
    parser.parse_args(argv)
    settings = tool_settings("sealing")
    for kid in destroyable_keys(
        settings.internal_topic_keys, date.today(), settings.internal_topic_retention_days
    ):
        sys.stdout.write(f"{kid}\n")


if __name__ == "__main__":
    main()

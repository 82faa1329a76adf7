"""Bearer tokens: HS256 in development, RS256 against a JWKS in production."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask

from shared.auth import Authenticator, mint_token
from shared.config import Settings
from shared.problems import Problem

SECRET = "unit-test-secret-with-at-least-32-bytes"


def _authenticator(**settings) -> Authenticator:
    return Authenticator(Settings(service="tests", jwt_secret=SECRET, **settings))


def test_hs256_token_gives_roles_country_and_lowercased_email():
    token = mint_token(SECRET, "u1", ["participant", "bogus"], email="Anna@Gov.EE", country="ee")
    principal = _authenticator().decode(token)
    assert principal.sub == "u1"
    assert principal.roles == frozenset({"participant"})  # unknown roles are dropped
    assert principal.email == "anna@gov.ee"
    assert principal.country == "EE"
    assert not principal.anonymous


@pytest.mark.parametrize(
    "token",
    [
        mint_token("another-secret-with-at-least-32-bytes!", "u1", ["secretariat"]),
        mint_token(SECRET, "u1", ["secretariat"], ttl_seconds=-5),
        jwt.encode({"roles": ["secretariat"], "exp": int(time.time()) + 60}, SECRET),  # no sub
        jwt.encode({"sub": "u1", "roles": ["secretariat"]}, SECRET),  # no exp
        jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, SECRET, algorithm="HS512"),
        "not.a.token",
    ],
)
def test_bad_tokens_are_refused_with_401(token):
    with pytest.raises(Problem) as caught:
        _authenticator().decode(token)
    assert caught.value.status == 401


def test_no_header_is_anonymous_and_a_wrong_scheme_is_401():
    auth = _authenticator()
    app = Flask("t")
    with app.test_request_context("/"):
        assert auth.authenticate_request().anonymous
    with (
        app.test_request_context("/", headers={"Authorization": "Basic abc"}),
        pytest.raises(Problem),
    ):
        auth.authenticate_request()


class _JwksServer:
    """A JWKS endpoint on loopback that counts how often the key set is fetched;
    ``add_key`` rotates a new key in."""

    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.fetches += 1
                body = json.dumps({"keys": server.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.http = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/jwks.json"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def add_key(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        public_jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
        self.keys.append(public_jwk)
        return key


@pytest.fixture
def jwks() -> Iterator[_JwksServer]:
    server = _JwksServer()
    yield server
    server.http.shutdown()


@pytest.fixture
def jwks_server(jwks):
    return jwks.add_key("k1"), jwks.url


def test_rs256_tokens_are_verified_against_the_jwks(jwks_server):
    key, url = jwks_server
    auth = _authenticator(jwt_jwks_url=url, jwt_audience="mlp")
    claims = {"sub": "p1", "roles": ["partner"], "aud": "mlp", "exp": int(time.time()) + 60}
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert auth.decode(token).roles == frozenset({"partner"})
    wrong_audience = jwt.encode(
        {**claims, "aud": "other"}, key, algorithm="RS256", headers={"kid": "k1"}
    )
    with pytest.raises(Problem):
        auth.decode(wrong_audience)
    # An HS256 token signed with the development secret is no good in RS256 mode.
    with pytest.raises(Problem):
        auth.decode(mint_token(SECRET, "p1", ["secretariat"]))


class _Clock:
    """Stands in for the ``time`` module of PyJWT's JWKS client."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def _rs256(key, kid: str) -> str:
    claims = {"sub": "p1", "roles": ["partner"], "exp": int(time.time()) + 60}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def test_unknown_key_ids_refetch_the_key_set_at_most_once_a_minute(jwks, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(jwt.jwks_client, "time", clock)
    key = jwks.add_key("k1")
    auth = _authenticator(jwt_jwks_url=jwks.url)
    assert auth.decode(_rs256(key, "k1")).sub == "p1"
    assert jwks.fetches == 1

    def made_up_kids(n: int) -> None:
        for _ in range(n):
            with pytest.raises(Problem) as caught:
                auth.decode(_rs256(key, f"made-up-{uuid.uuid4().hex}"))
            assert caught.value.status == 401

    made_up_kids(20)
    assert jwks.fetches == 1  # the set was fetched a moment ago
    clock.now += 45
    made_up_kids(20)
    assert jwks.fetches == 1  # still within the minute
    clock.now += 16
    rotated = jwks.add_key("k2")
    assert auth.decode(_rs256(rotated, "k2")).sub == "p1"  # a rotated key is found
    assert jwks.fetches == 2
    made_up_kids(20)
    assert jwks.fetches == 2


def test_the_issuer_is_checked_when_set():
    auth = _authenticator(jwt_issuer="https://id.example.eu")
    expires = int(time.time()) + 60
    good = jwt.encode({"sub": "u", "exp": expires, "iss": "https://id.example.eu"}, SECRET)
    assert auth.decode(good).sub == "u"
    for claims in ({"iss": "https://id.evil.example"}, {}):  # another issuer, or none
        token = jwt.encode({"sub": "u", "exp": expires, **claims}, SECRET)
        with pytest.raises(Problem) as caught:
            auth.decode(token)
        assert caught.value.status == 401
    # Unset, any issuer goes (as before).
    assert _authenticator().decode(jwt.encode({"sub": "u", "exp": expires}, SECRET)).sub == "u"


@pytest.mark.parametrize(
    ("claim", "trusted"),
    [(True, True), ("true", True), (False, False), (None, False), ("yes", False), (1, False)],
)
def test_an_email_matches_people_only_when_verified_where_that_is_required(claim, trusted):
    claims = {"sub": "u", "exp": int(time.time()) + 60, "email": "Ana@Gov.EE"}
    if claim is not None:
        claims["email_verified"] = claim
    token = jwt.encode(claims, SECRET)
    strict = _authenticator(jwt_require_verified_email=True).decode(token)
    assert strict.email == "ana@gov.ee"  # what the token says
    assert strict.verified_email == ("ana@gov.ee" if trusted else None)  # what access trusts
    assert _authenticator().decode(token).verified_email == "ana@gov.ee"  # not required


def test_production_requires_verified_e_mails_by_default_and_development_does_not():
    from services.events.config import load_settings

    production = {
        "MLP_ENV": "production",
        "MLP_JWT_SECRET": "p" * 40,
        "MLP_ERASURE_SALT": "e" * 40,
        "MLP_INTERNAL_TOPIC_KEYS": "2026-12:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    }
    opted_out = {**production, "MLP_JWT_REQUIRE_VERIFIED_EMAIL": "false"}
    assert load_settings(production).jwt_require_verified_email is True
    assert load_settings(opted_out).jwt_require_verified_email is False
    assert load_settings({}).jwt_require_verified_email is False
    issuer = "https://id.example.eu"
    assert load_settings({"MLP_JWT_ISSUER": issuer}).jwt_issuer == issuer


def test_the_coordinator_role_of_the_contract_is_kept():
    principal = _authenticator().decode(mint_token(SECRET, "c1", ["coordinator"], country="lv"))
    assert principal.roles == frozenset({"coordinator"})

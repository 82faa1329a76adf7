"""Bearer-JWT authentication: who is calling, with which roles, from which country.

Development signs HS256 with ``MLP_JWT_SECRET``; production may verify RS256
against ``MLP_JWT_JWKS_URL``. A request without a token is anonymous; a request
with a bad token is refused (401) rather than downgraded to anonymous.

People are matched to their invitations, papers and feed by e-mail. An
identity provider that lets anyone sign up with any address would let anyone
claim another's, so that match uses :attr:`Principal.verified_email` only: the
token's ``email`` when it also says ``email_verified: true`` (required while
``MLP_JWT_REQUIRE_VERIFIED_EMAIL`` is on, as it is in production).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

import jwt
from flask import g, request

from shared.config import Settings
from shared.problems import Problem

ROLES = frozenset({"secretariat", "participant", "expert", "partner", "ops", "coordinator"})
# A token naming a key id the JWKS does not hold makes PyJWKClient fetch the set
# again (a key may have rotated), but at most once per this many seconds: made-up
# key ids must not turn every request into a request to the identity provider.
JWKS_REFETCH_COOLDOWN_S = 60.0
JWKS_FETCH_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Principal:
    """The caller. ``anonymous`` callers have no subject and no roles."""

    sub: str | None = None
    email: str | None = None  # the token's claim, lower-cased: never match people on it
    roles: frozenset[str] = field(default_factory=frozenset)
    country: str | None = None
    email_trusted: bool = False  # see verified_email

    @property
    def anonymous(self) -> bool:
        return self.sub is None

    @property
    def verified_email(self) -> str | None:
        """The address every e-mail-matched access uses ("my invitations", papers
        of accepted invitees, the feed): the token's ``email`` when it says
        ``email_verified: true``, or when this deployment does not ask for that
        (``MLP_JWT_REQUIRE_VERIFIED_EMAIL`` off); None otherwise."""
        return self.email if self.email_trusted else None

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles & frozenset(roles))

    @property
    def is_secretariat(self) -> bool:
        return "secretariat" in self.roles


ANONYMOUS = Principal()


class Authenticator:
    """Turns a bearer token into a :class:`Principal`."""

    def __init__(self, settings: Settings) -> None:
        self.secret = settings.jwt_secret
        self.audience = settings.jwt_audience or None
        self.issuer = settings.jwt_issuer or None
        self.require_verified_email = settings.jwt_require_verified_email
        self.jwks = (
            jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cooldown_duration=JWKS_REFETCH_COOLDOWN_S,
                timeout=JWKS_FETCH_TIMEOUT_S,
            )
            if settings.jwt_jwks_url
            else None
        )

    def decode(self, token: str) -> Principal:
        try:
            if self.jwks is not None:
                key: Any = self.jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256"]
            else:
                key, algorithms = self.secret, ["HS256"]
            required = ["sub", "exp"] + (["iss"] if self.issuer else [])
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": required, "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise Problem(
                401,
                f"The bearer token is not valid: {exc}.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from exc
        roles = claims.get("roles") or []
        if isinstance(roles, str):
            roles = [roles]
        country = claims.get("country")
        # Some providers send the claim as the string "true"; anything else is not verified.
        claim = claims.get("email_verified")
        verified = claim is True or claim in ("true", "True")
        return Principal(
            sub=str(claims["sub"]),
            email=(claims.get("email") or None) and str(claims["email"]).lower(),
            roles=frozenset(r for r in roles if r in ROLES),
            country=country.upper() if isinstance(country, str) else None,
            email_trusted=verified or not self.require_verified_email,
        )

    def authenticate_request(self) -> Principal:
        header = request.headers.get("Authorization", "")
        if not header:
            return ANONYMOUS
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Problem(
                401,
                "Use 'Authorization: Bearer <token>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return self.decode(token.strip())


def current_principal() -> Principal:
    """The caller of the request in hand (authenticated before the view runs)."""
    return g.get("principal", ANONYMOUS)


F = TypeVar("F", bound=Callable[..., Any])


def require_roles(*roles: str) -> Callable[[F], F]:
    """Refuse anonymous callers (401) and callers without one of ``roles`` (403);
    the view's ``required_roles`` says so to its OpenAPI document."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if principal.anonymous:
                raise Problem(
                    401,
                    "This endpoint needs a bearer token.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if roles and not principal.has_any(roles):
                raise Problem(403, f"This needs one of the roles: {', '.join(sorted(roles))}.")
            return view(*args, **kwargs)

        # What the OpenAPI document says of the view (shared.web.ApiBlueprint).
        wrapper.required_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def mint_token(
    secret: str,
    sub: str,
    roles: Iterable[str],
    *,
    email: str | None = None,
    email_verified: bool | None = None,
    country: str | None = None,
    ttl_seconds: int = 3600,
) -> str:
    """Sign an HS256 development token (demo data, tests, benchmarks)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "roles": list(roles),
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if email:
        claims["email"] = email
    if email_verified is not None:
        claims["email_verified"] = email_verified
    if country:
        claims["country"] = country
    return jwt.encode(claims, secret, algorithm="HS256")

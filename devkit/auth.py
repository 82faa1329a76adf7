"""Development tokens: HS256 JWTs minted with a known secret, and the headers
that carry them."""

from __future__ import annotations

import uuid

from shared.auth import mint_token

# The secret of the processes and apps that devkit.env configures.
JWT_SECRET = "test-secret-with-at-least-32-bytes!!"


def token(
    *roles: str,
    country: str | None = None,
    email: str | None = None,
    sub: str | None = None,
    secret: str = JWT_SECRET,
    email_verified: bool | None = True,
) -> str:
    """A token with ``roles`` for ``sub`` (a fresh user when not given); an
    ``email`` is claimed verified, as identity providers do, unless told otherwise
    (``email_verified=False``, or ``None`` to leave the claim out)."""
    sub = sub or f"user-{uuid.uuid4().hex[:8]}"
    verified = email_verified if email else None
    return mint_token(secret, sub, roles, email=email, email_verified=verified, country=country)


def auth(
    *roles: str,
    country: str | None = None,
    email: str | None = None,
    sub: str | None = None,
    secret: str = JWT_SECRET,
    email_verified: bool | None = True,
) -> dict[str, str]:
    """The ``Authorization`` header of :func:`token`."""
    jwt = token(
        *roles, country=country, email=email, sub=sub, secret=secret, email_verified=email_verified
    )
    return {"Authorization": f"Bearer {jwt}"}

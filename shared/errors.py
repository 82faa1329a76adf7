"""The refusals of write paths, without HTTP.

Operations, handlers and jobs raise these; they know nothing of requests. The
HTTP edge (:mod:`shared.problems`) answers each with its RFC 9457 problem:
the class gives the status and the stable ``type`` slug, ``details`` become
the problem's extension members (``current_status``, ``errors``, ...).
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """A request the rules refuse; ``detail`` is a sentence for a person."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, *, slug: str | None = None, **details: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.details = details
        if slug is not None:
            self.slug = slug  # type: ignore[misc] - a more precise type for this refusal


class NotFound(DomainError):
    """The resource does not exist, or the caller may not know that it does."""

    status = 404
    slug = "not-found"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    status = 403
    slug = "forbidden"


class Conflict(DomainError):
    """The resource's state does not allow the change now."""

    status = 409
    slug = "conflict"


class IllegalTransition(Conflict):
    """The action does not apply to the resource's current status."""

    slug = "illegal-transition"

    def __init__(self, detail: str, current_status: str, **details: Any) -> None:
        super().__init__(detail, current_status=current_status, **details)


class Gone(DomainError):
    """The resource existed but is no longer usable (a revoked link, a cancelled event)."""

    status = 410
    slug = "gone"


class PreconditionFailed(DomainError):
    """The caller's ``If-Match`` names a version that is no longer current."""

    status = 412
    slug = "precondition-failed"


class PreconditionRequired(DomainError):
    """The write must name, in ``If-Match``, the version the caller saw (RFC 6585)."""

    status = 428
    slug = "precondition-required"


class Invalid(DomainError):
    """The input breaks a rule; ``errors`` maps field names to messages."""

    status = 422
    slug = "validation-error"


class TooLarge(DomainError):
    """The input is larger than allowed."""

    status = 413
    slug = "payload-too-large"


class UnsupportedType(DomainError):
    """The input's type is not one the operation takes."""

    status = 415
    slug = "unsupported-media-type"


class RateLimited(DomainError):
    """Too many requests from one client; ``retry_after_s`` says when to come back."""

    status = 429
    slug = "too-many-requests"

    def __init__(self, detail: str, retry_after_s: int, **details: Any) -> None:
        super().__init__(detail, **details)
        self.retry_after_s = retry_after_s


class Unavailable(DomainError):
    """A dependency the action needs (Kafka, another service) does not answer."""

    status = 503
    slug = "service-unavailable"

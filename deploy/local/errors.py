"""The two ways the local infrastructure fails, each carrying one sentence (or
the tail of a server's log) for the person who ran the command."""

from __future__ import annotations


class PrerequisiteError(Exception):
    """Something the local infrastructure needs is missing or in the way."""


class StartError(Exception):
    """A local server did not come up; the message carries the tail of its log."""

"""Errors of the wire format: what a subscriber raises for a message it cannot use."""

from __future__ import annotations


class WireFormatError(ValueError):
    """A message that does not follow the wire format; the subscriber stays usable after it.

    ``topic`` is the message's first frame when known, so a log line can name the stream.
    """

    def __init__(self, message: str, topic: bytes | None = None) -> None:
        super().__init__(message)
        self.topic = topic


class MalformedMessage(WireFormatError):
    """Garbage, a truncated payload, a missing key, a wrong type or an array that does not decode."""


class SchemaVersionError(WireFormatError):
    """A well-formed message of another schema version than this client reads."""

    def __init__(self, found: object, expected: str, topic: bytes | None = None) -> None:
        super().__init__(
            f"message schema {found!r} is not supported: this client reads {expected!r} "
            "(upgrade the client or the publisher so that both speak the same version)",
            topic,
        )
        self.found = found
        self.expected = expected

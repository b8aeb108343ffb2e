"""Which exceptions are the user's to fix, and how they read on one line."""

from __future__ import annotations

import sys


class UsageError(Exception):
    """Command-line input that parsed but makes no sense, e.g. ``--size 12x``; the message is one line."""


_LIBRARY_ERRORS = (
    ("vkstream.data", "DatasetError"),
    ("vkstream.nodes.sources", "SourceError"),
    ("vkstream.pipeline.runtime", "PipelineError"),
    ("vkstream.client.control", "ControlError"),
)


def expected_error_message(exc: BaseException) -> str | None:
    """A one-line message for an error the user can fix, or ``None`` for a bug that needs a traceback.

    Expected are bad arguments, bad config files, bad dataset files and ``ValueError`` (which the
    libraries raise for invalid input). Pydantic's multi-line report is condensed to its first error.
    """
    from pydantic import ValidationError

    from vkstream.launch.config import ConfigError, format_validation_error

    if isinstance(exc, ValidationError):
        return format_validation_error(exc, exc.title)
    expected: tuple[type[BaseException], ...] = (UsageError, ConfigError, ValueError)
    # These can only have been raised if their module was imported; looking in sys.modules avoids
    # importing them (and numpy, Ray) just to classify an unrelated error.
    for module, name in _LIBRARY_ERRORS:
        error = getattr(sys.modules.get(module), name, None)
        if isinstance(error, type):
            expected += (error,)
    if not isinstance(exc, expected):
        return None
    return " ".join(str(exc).split()) or type(exc).__name__

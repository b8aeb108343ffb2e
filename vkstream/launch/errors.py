"""Which exceptions are the user's to fix, and how they read on one line."""

from __future__ import annotations

import sys


class UsageError(Exception):
    """Command-line input that parsed but makes no sense, e.g. ``--size 12x``; the message is one line."""


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
    # A DatasetError can only have been raised if the data layer was imported; looking in sys.modules
    # avoids importing it (and numpy) just to classify an unrelated error.
    dataset_error = getattr(sys.modules.get("vkstream.data"), "DatasetError", None)
    if isinstance(dataset_error, type):
        expected += (dataset_error,)
    if not isinstance(exc, expected):
        return None
    return " ".join(str(exc).split()) or type(exc).__name__

"""The exception evaluation raises for inputs it cannot score."""

from __future__ import annotations


class EvalError(ValueError):
    """Ground truth and prediction that cannot be scored together; the message names the frames."""

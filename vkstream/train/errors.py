"""Errors of training, prediction and checkpoint loading that the user can fix; messages are one line.

Both derive from ValueError, which the command line reports as ``vkstream CMD: error: MESSAGE``.
"""

from __future__ import annotations


class TrainingError(ValueError):
    """Data unfit for training or prediction, a run folder in the way, a diverged loss, no such device."""


class CheckpointError(ValueError):
    """A checkpoint is missing, not a vkstream checkpoint, or made for another model or class count."""

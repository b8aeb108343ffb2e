"""Operator views of received results: annotated panels, recorded videos and strips, latency tables.

Builds on :mod:`vkstream.client` and :mod:`vkstream.data` only (numpy and OpenCV, never torch or Ray),
so it runs beside a planner or on a laptop that just subscribes.
"""

from vkstream.viz.annotate import annotate, colorize_result, overlay_result, result_labels
from vkstream.viz.latency import LatencySummary
from vkstream.viz.recorder import VIDEO_FORMATS, StreamRecorder, file_stem

__all__ = [
    "VIDEO_FORMATS",
    "LatencySummary",
    "StreamRecorder",
    "annotate",
    "colorize_result",
    "file_stem",
    "overlay_result",
    "result_labels",
]

"""Video panoptic metrics: STQ, DSTQ, VPQ and DVPQ, equal to the reference implementations, streaming."""

from vkstream.eval.codes import SegmentCodes
from vkstream.eval.errors import EvalError
from vkstream.eval.evaluator import (
    DEFAULT_DQ_THRESHOLDS,
    DEFAULT_DVPQ_LAMBDAS,
    DEFAULT_VPQ_WINDOWS,
    DVPQ_WINDOWS_BY_LAYOUT,
    METRICS,
    Evaluator,
    parse_metrics,
)
from vkstream.eval.result import EvalResult
from vkstream.eval.stq import SegmentationTrackingQuality, SequenceScores
from vkstream.eval.vpq import PanopticScores, VideoPanopticQuality, VideoPanopticScores

__all__ = [
    "DEFAULT_DQ_THRESHOLDS",
    "DEFAULT_DVPQ_LAMBDAS",
    "DEFAULT_VPQ_WINDOWS",
    "DVPQ_WINDOWS_BY_LAYOUT",
    "METRICS",
    "EvalError",
    "EvalResult",
    "Evaluator",
    "PanopticScores",
    "SegmentCodes",
    "SegmentationTrackingQuality",
    "SequenceScores",
    "VideoPanopticQuality",
    "VideoPanopticScores",
    "parse_metrics",
]

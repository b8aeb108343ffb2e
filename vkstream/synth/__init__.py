"""A synthetic driving world rendered with exact panoptic labels, track ids and depth, in KITTI formats.

No KITTI data or pretrained weights can be fetched on many robot and CI machines, so vkstream
renders its own sequences: a pinhole camera driving down a 3D street with traffic and people.
"""

from vkstream.synth.config import SynthConfig
from vkstream.synth.generate import SYNTH_LAYOUTS, GenerationReport, generate_dataset
from vkstream.synth.render import SequenceRenderer

__all__ = ["SYNTH_LAYOUTS", "GenerationReport", "SequenceRenderer", "SynthConfig", "generate_dataset"]

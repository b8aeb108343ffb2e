"""vkstream: real-time depth-aware video panoptic segmentation for robots and cars."""

__version__ = "0.1.0"

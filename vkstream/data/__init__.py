"""KITTI-format data layer: frames, readers and writers for KITTI-STEP, SemKITTI-DVPS and KITTI raw."""

from vkstream.data.base import SequenceDataset
from vkstream.data.calib import read_kitti_calib, read_kitti_raw_calib, write_kitti_calib
from vkstream.data.classes import (
    CLASS_NAMES,
    CLASSES,
    NUM_CLASSES,
    PALETTE,
    SEMKITTI_TO_TRAIN_ID,
    THING_IDS,
    VOID,
    ClassInfo,
    TrainId,
)
from vkstream.data.codec import quantize_depth
from vkstream.data.datasets import LAYOUTS, detect_layout, open_dataset
from vkstream.data.errors import DatasetError
from vkstream.data.frame import FRAME_RATE_HZ, Frame, Intrinsics
from vkstream.data.kitti_raw import KittiRawDataset, read_kitti_timestamps
from vkstream.data.kitti_step import KittiStepDataset
from vkstream.data.labels import CITYSCAPES, LabelSpace
from vkstream.data.pngio import read_png, write_png
from vkstream.data.semkitti_dvps import SemKittiDvpsDataset
from vkstream.data.summary import DatasetSummary, SequenceSummary
from vkstream.data.visualize import colorize_depth, colorize_panoptic, preview_strip
from vkstream.data.writers import DatasetWriter, KittiStepWriter, SemKittiDvpsWriter, make_writer

__all__ = [
    "CITYSCAPES",
    "CLASSES",
    "CLASS_NAMES",
    "FRAME_RATE_HZ",
    "LAYOUTS",
    "NUM_CLASSES",
    "PALETTE",
    "SEMKITTI_TO_TRAIN_ID",
    "THING_IDS",
    "VOID",
    "ClassInfo",
    "DatasetError",
    "DatasetSummary",
    "DatasetWriter",
    "Frame",
    "Intrinsics",
    "KittiRawDataset",
    "KittiStepDataset",
    "KittiStepWriter",
    "LabelSpace",
    "SemKittiDvpsDataset",
    "SemKittiDvpsWriter",
    "SequenceDataset",
    "SequenceSummary",
    "TrainId",
    "colorize_depth",
    "colorize_panoptic",
    "detect_layout",
    "make_writer",
    "open_dataset",
    "preview_strip",
    "quantize_depth",
    "read_kitti_calib",
    "read_kitti_raw_calib",
    "read_kitti_timestamps",
    "read_png",
    "write_kitti_calib",
    "write_png",
]

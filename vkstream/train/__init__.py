"""Training, validation, checkpoints and offline prediction for the online Video K-Net.

``load_model`` is the one way to turn a checkpoint file into a ready model, for the runtime too.
"""

from vkstream.train.checkpoint import export_checkpoint, load_model, read_checkpoint
from vkstream.train.config import TrainConfig
from vkstream.train.errors import CheckpointError, TrainingError
from vkstream.train.predict import PredictReport, predict_dataset
from vkstream.train.trainer import Trainer, TrainSummary, train
from vkstream.train.validate import validate

__all__ = [
    "CheckpointError",
    "PredictReport",
    "TrainConfig",
    "TrainSummary",
    "Trainer",
    "TrainingError",
    "export_checkpoint",
    "load_model",
    "predict_dataset",
    "read_checkpoint",
    "train",
    "validate",
]

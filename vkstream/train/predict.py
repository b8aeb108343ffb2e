"""``vkstream predict``: run a checkpoint over a recorded dataset and write its predictions as a dataset.

The output uses the data writers' layouts (predicted instance id = track id, depth in metres), so
``vkstream eval --gt DATA --pred OUT`` scores it and every dataset reader reads it back.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from vkstream.data import make_writer, open_dataset
from vkstream.data.writers import WRITERS
from vkstream.models.device import resolve_device
from vkstream.train.checkpoint import load_online
from vkstream.train.errors import TrainingError
from vkstream.train.online import predict_sequence
from vkstream.train.trainer import torch_threads

WRITE_LAYOUTS: tuple[str, ...] = tuple(WRITERS)
LABELS_FILE = "labels.json"
"""Written beside the predictions: the model's label space (class names, thing classes, colours)."""
FALLBACK_LAYOUT = "kitti-step"
"""Written for inputs in a layout without labels (kitti-raw)."""


@dataclass
class PredictReport:
    out: Path
    layout: str
    split: str
    association: str
    sequences: list[str] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0

    def format(self) -> str:
        rate = self.frames / self.seconds if self.seconds else 0.0
        return (
            f"wrote predictions for {self.frames} frames in {len(self.sequences)} sequence(s) to {self.out} "
            f"({self.layout}, split {self.split}, {self.association} association; {rate:.1f} frames/s)"
        )


def predict_dataset(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    layout: str | None = None,
    split: str = "train",
    out_layout: str | None = None,
    association: str | None = None,
    sequences: list[str] | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = False,
) -> PredictReport:
    """Predict every frame of ``sequences`` (default: all) of a dataset split, one stream per sequence.

    The output split has the input's name, in ``out_layout`` (default: the input's layout when it holds
    labels, else kitti-step), with the model's label space in ``labels.json``. ``threads``: torch CPU
    threads while predicting (None: torch's choice).
    """
    with torch_threads(threads):
        return _predict(
            checkpoint, data, out, layout, split, out_layout, association, sequences, device, progress
        )


def _predict(
    checkpoint: str | os.PathLike[str],
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    layout: str | None,
    split: str,
    out_layout: str | None,
    association: str | None,
    sequences: list[str] | None,
    device: str,
    progress: bool,
) -> PredictReport:
    torch_device = resolve_device(device)
    dataset = open_dataset(data, layout=layout, split=split)
    out_layout = out_layout or (dataset.layout if dataset.layout in WRITERS else FALLBACK_LAYOUT)
    if out_layout not in WRITERS:
        raise TrainingError(f"cannot write layout {out_layout!r}; choose one of {', '.join(WRITE_LAYOUTS)}")
    chosen = dataset.sequences if sequences is None else sequences
    missing = [name for name in chosen if name not in dataset.sequences]
    if missing:
        raise TrainingError(
            f"no sequence {', '.join(missing)} in {dataset.root} (found: {', '.join(dataset.sequences)})"
        )
    overrides = {"association": association} if association is not None else None
    online, config, metadata = load_online(checkpoint, torch_device, overrides=overrides)
    if Path(out).resolve() == Path(data).resolve():
        raise TrainingError(f"--out {out} is the input dataset; predictions would overwrite its labels")
    writer = make_writer(out_layout, out, split)
    Path(out).mkdir(parents=True, exist_ok=True)
    labels_file = Path(out) / LABELS_FILE
    labels_file.write_text(json.dumps(metadata["label_space"].to_json(), indent=1) + "\n", encoding="utf-8")
    report = PredictReport(Path(out), out_layout, split, config.association)
    started = time.perf_counter()
    total = sum(dataset.num_frames(name) for name in chosen)
    with tqdm(total=total, desc="predict", unit="frame", disable=not progress) as bar:
        for sequence in chosen:
            for _, prediction in predict_sequence(online, dataset.frames(sequence), torch_device):
                try:
                    writer.write(prediction)
                except ValueError as err:
                    raise TrainingError(f"cannot write the prediction as {out_layout}: {err}") from err
                report.frames += 1
                bar.update(1)
            report.sequences.append(sequence)
    report.seconds = time.perf_counter() - started
    return report

"""Write a synthetic dataset in an official KITTI layout, with a preview strip and a summary."""

from __future__ import annotations

import multiprocessing
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from vkstream.data import DatasetError, TrainId, detect_layout, make_writer, preview_strip, write_png
from vkstream.synth.config import SynthConfig
from vkstream.synth.render import SequenceRenderer

SYNTH_LAYOUTS = ("kitti-step", "semkitti-dvps")
"""Layouts with labels; the unlabelled kitti-raw layout is for replaying real recordings."""

_NAME_DIGITS = {"kitti-step": 4, "semkitti-dvps": 6}
MANIFEST = "synth.yaml"
"""Written beside the data: the exact arguments and world config that reproduce it."""


@dataclass
class GenerationReport:
    out: Path
    layout: str
    split: str
    size: tuple[int, int]
    sequences: list[str] = field(default_factory=list)
    frames: int = 0
    cars: int = 0
    people: int = 0
    total_seconds: float = 0.0
    preview: Path | None = None

    def format(self) -> str:
        width, height = self.size
        lines = [
            f"wrote {self.frames} frames in {len(self.sequences)} sequence(s) to {self.out} "
            f"({self.layout}, split {self.split}, {width}x{height})",
            f"objects: {self.cars} cars, {self.people} pedestrians with persistent track ids",
            f"{self.frames / max(self.total_seconds, 1e-9):.1f} frames/s including PNG writing "
            "(benchmarks/synth_speed.py measures rendering alone)",
        ]
        if self.preview is not None:
            lines.append(f"preview: {self.preview}")
        return "\n".join(lines)


def check_output_folder(out: Path, layout: str, split: str) -> None:
    """Refuse to mix layouts: a folder already holding another layout's files would become unreadable.

    Re-generating the same layout overwrites in place; files of no dataset layout are no obstacle.
    """
    if out.exists() and not out.is_dir():
        raise ValueError(f"output path exists and is not a folder: {out}")
    if not out.is_dir() or not any(out.iterdir()):
        return
    try:
        found = detect_layout(out, split)
    except DatasetError:
        return
    if found != layout:
        raise ValueError(f"{out} already holds a {found} dataset; choose an empty folder or --layout {found}")


def generate_dataset(
    out: str | Path,
    *,
    layout: str,
    sequences: int,
    frames: int,
    size: tuple[int, int],
    seed: int,
    split: str = "train",
    config: SynthConfig | None = None,
    preview: str | Path | None = None,
    progress: bool = True,
    workers: int = 1,
) -> GenerationReport:
    """Render `sequences` sequences of `frames` frames at `size` = (W, H) and write them in `layout`.

    ``workers`` > 1 renders sequences in that many processes. The same arguments give byte-identical
    files, whatever the number of workers.
    """
    if layout not in SYNTH_LAYOUTS:
        known = ", ".join(SYNTH_LAYOUTS)
        raise ValueError(f"unknown layout {layout!r} for synthetic data (choose from {known})")
    if sequences < 1 or frames < 1:
        raise ValueError("sequences and frames must be at least 1")
    if workers < 1:
        raise ValueError(f"workers must be at least 1 (got {workers})")
    width, height = size
    if width < 32 or height < 32:
        raise ValueError(f"image size {width}x{height} is too small (at least 32x32)")
    if seed < 0:
        raise ValueError(f"seed must be >= 0 (got {seed})")
    config = config or SynthConfig()
    out = Path(out)
    check_output_folder(out, layout, split)
    report = GenerationReport(out=out, layout=layout, split=split, size=(width, height))
    started = time.perf_counter()
    job = _Job(out, layout, split, frames, (width, height), seed, config)
    bar = tqdm(total=sequences * frames, desc="synth", unit="frame", disable=not progress)
    with bar:
        if workers == 1 or sequences == 1:
            counts = [job.write(seq, bar.update) for seq in range(sequences)]
        else:
            context = multiprocessing.get_context("spawn")  # numba and writer threads do not survive fork
            with ProcessPoolExecutor(min(workers, sequences), mp_context=context) as pool:
                futures = [pool.submit(job.write, seq) for seq in range(sequences)]
                for _ in as_completed(futures):
                    bar.update(frames)
                counts = [future.result() for future in futures]
    for seq, (cars, people) in enumerate(counts):
        report.sequences.append(_sequence_name(layout, seq))
        report.frames += frames
        report.cars += cars
        report.people += people
    report.total_seconds = time.perf_counter() - started
    _write_manifest(out, layout, split, sequences, frames, size, seed, config)
    if preview is not None:
        renderer = SequenceRenderer(seed, 0, frames, (width, height), config, name=_sequence_name(layout, 0))
        indices = sorted({round(i * (frames - 1) / 3) for i in range(4)})
        strip = preview_strip([renderer.render(i) for i in indices], scale=min(1.0, 620.0 / width))
        write_png(preview, strip)
        report.preview = Path(preview)
    return report


def _sequence_name(layout: str, index: int) -> str:
    return f"{index:0{_NAME_DIGITS[layout]}d}"


@dataclass(frozen=True)
class _Job:
    """Everything a process needs to render and write one sequence (picklable)."""

    out: Path
    layout: str
    split: str
    frames: int
    size: tuple[int, int]
    seed: int
    config: SynthConfig

    def write(self, seq: int, progress: Callable[[int], object] | None = None) -> tuple[int, int]:
        """Render and write sequence ``seq``; returns its (cars, people) that appear in some frame."""
        writer = make_writer(self.layout, self.out, self.split)
        name = _sequence_name(self.layout, seq)
        renderer = SequenceRenderer(self.seed, seq, self.frames, self.size, self.config, name=name)
        seen: set[int] = set()  # instance ids that appear in at least one frame
        # PNG encoding releases the GIL: two writer threads overlap it with rendering the next frame.
        pending: deque[Future] = deque()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="synth-writer") as pool:
            for index in range(self.frames):
                frame = renderer.render(index)
                pending.append(pool.submit(writer.write, frame))
                while len(pending) > 4:
                    pending.popleft().result()
                seen.update(np.flatnonzero(np.bincount(frame.instance.ravel())[1:]) + 1)
                if progress is not None:
                    progress(1)
            while pending:
                pending.popleft().result()
        classes = renderer.tracked_classes
        cars = sum(1 for i in seen if classes.get(int(i)) == TrainId.CAR)
        people = sum(1 for i in seen if classes.get(int(i)) == TrainId.PERSON)
        return cars, people


def _write_manifest(
    out: Path,
    layout: str,
    split: str,
    sequences: int,
    frames: int,
    size: tuple[int, int],
    seed: int,
    config: SynthConfig,
) -> None:
    manifest = {
        "generator": "vkstream synth",
        "layout": layout,
        "split": split,
        "sequences": sequences,
        "frames": frames,
        "size": f"{size[0]}x{size[1]}",
        "seed": seed,
        "config": config.model_dump(mode="json"),
    }
    (out / MANIFEST).write_text(yaml.safe_dump(manifest, sort_keys=False))

"""Which frames a preview shows: a sequence by name or number, and frames by number or a default
spread that reads as little of the sequence as it can."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vkstream.data.base import SequenceDataset
    from vkstream.data.frame import Frame

DEFAULT_FRAME_COUNT = 4
DEFAULT_MAX_STEP = 10
"""Frames between default picks at most: about a second of driving, and few frames to read."""


def pick_sequence(dataset: SequenceDataset, name: str | None) -> str:
    """The sequence called ``name`` (None: the first); a number also matches its zero-padded form
    ("3" finds "0003"). ValueError naming the sequences there are."""
    if name is None:
        return dataset.sequences[0]
    if name in dataset.sequences:
        return name
    if _is_number(name):
        numbered = [seq for seq in dataset.sequences if _is_number(seq) and int(seq) == int(name)]
        if len(numbered) == 1:
            return numbered[0]
    raise ValueError(f"no sequence '{name}' in {dataset.root} (found: {_listing(dataset.sequences)})")


def select_frames(dataset: SequenceDataset, sequence: str, wanted: list[int] | None) -> list[Frame]:
    """The frames numbered ``wanted`` in that order, or by default a few from the start on.

    Frames are read in order and reading stops after the last one needed.
    """
    count = dataset.num_frames(sequence)
    if wanted is None:
        positions = default_positions(count, DEFAULT_FRAME_COUNT)
        last = max(positions)
        picked = []
        for position, frame in enumerate(dataset.frames(sequence)):
            if position in positions:
                picked.append(frame)
            if position >= last:
                break
        return picked
    found: dict[int, Frame] = {}
    for frame in dataset.frames(sequence):
        if frame.index in wanted:
            found[frame.index] = frame
            if len(found) == len(wanted):
                break
    missing = [index for index in wanted if index not in found]
    if missing:
        raise ValueError(
            f"sequence {sequence} has no frame {_listing([str(i) for i in missing])} "
            f"({count} frames; use numbers as in the file names)"
        )
    return [found[index] for index in wanted]


def default_positions(count: int, n: int) -> set[int]:
    """Positions of up to ``n`` frames from the start, evenly spaced and at most DEFAULT_MAX_STEP apart.

    Frames can only be read in order, so the step is capped to keep a long sequence's preview quick.
    """
    if count <= n:
        return set(range(count))
    step = min(DEFAULT_MAX_STEP, (count - 1) // (n - 1))
    return {i * step for i in range(n)}


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _listing(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")

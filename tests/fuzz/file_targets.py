"""Fuzz inputs for what the product reads from files: pipeline configs and a dataset's PNGs.

Shared by the tests and ``benchmarks/fuzz.py``. The properties: a config file of any content loads or
raises :class:`ConfigError` (one line); a dataset whose PNGs are corrupted (bytes flipped, cut short,
extended, replaced) reads with each bad frame skipped, or raises :class:`DatasetError`, nothing else.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.fuzz.wire_targets import VALUES
from vkstream.data import open_dataset
from vkstream.data.errors import DatasetError
from vkstream.launch.config import ConfigError, load_config
from vkstream.pipeline.config import PipelineConfig

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "configs" / "pipeline").glob("*.yaml"))

YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8,
)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def config_texts(draw: st.DrawFn) -> bytes:
    """A shipped pipeline config with values replaced or removed, or random YAML, text or bytes."""
    kind = draw(st.sampled_from(["mutated", "mutated", "yaml", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=300)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "yaml":
        return yaml.safe_dump(draw(YAML_VALUES)).encode()
    data = copy.deepcopy(yaml.safe_load(draw(st.sampled_from(SHIPPED)).read_text()))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        if not path:
            continue
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(YAML_VALUES | VALUES.filter(lambda v: not isinstance(v, bytes)))
    try:
        return yaml.safe_dump(data).encode()
    except yaml.YAMLError:
        return b"{"


def check_config(path: Path, text: bytes) -> str:
    path.write_bytes(text)
    try:
        load_config(path, PipelineConfig)
    except ConfigError as exc:
        assert str(exc).strip(), "empty error"
        return "ConfigError"
    return "ok"


@st.composite
def png_corruptions(draw: st.DrawFn) -> tuple[str, int, list[tuple[str, int, bytes]]]:
    """(folder kind, frame, edits): which PNG of a dataset to corrupt and how."""
    kind = draw(st.sampled_from(["images", "panoptic_maps", "depth"]))
    frame = draw(st.integers(0, 1))
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["flip", "cut", "insert", "replace"]),
                st.integers(0, 4000),
                st.binary(min_size=1, max_size=16),
            ),
            min_size=1,
            max_size=4,
        )
    )
    return kind, frame, edits


def corrupt(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, at, chunk in edits:
        at %= max(len(out), 1)
        if kind == "flip":
            out[at : at + len(chunk)] = bytes(
                a ^ b for a, b in zip(out[at : at + len(chunk)], chunk, strict=False)
            )
        elif kind == "cut":
            del out[at:]
        elif kind == "insert":
            out[at:at] = chunk
        else:
            out = bytearray(chunk)
    return bytes(out)


def check_dataset(work: Path, corruption: tuple[str, int, list[tuple[str, int, bytes]]]) -> str:
    """Corrupt one PNG of the dataset at ``work``, read every frame, restore the PNG.

    Returns 'ok', 'skipped' or 'DatasetError'; anything else propagates.
    """
    kind, frame, edits = corruption
    target = work / kind / "train" / "0000" / f"{frame:06d}.png"
    clean = target.read_bytes()
    target.write_bytes(corrupt(clean, edits))
    try:
        dataset = open_dataset(work)
        frames = [f for sequence in dataset.sequences for f in dataset.frames(sequence)]
    except DatasetError as exc:
        assert str(exc).strip()
        return "DatasetError"
    finally:
        target.write_bytes(clean)
    return "skipped" if dataset.skipped else ("ok" if frames else "empty")

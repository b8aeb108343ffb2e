"""The golden wire samples in docs/wire-samples, their script, and a strict comparison with their JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack

from vkstream.client import StreamResult, decode_message

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "docs" / "wire-samples"
SCRIPT = SAMPLES_DIR / "make_samples.py"
NAMES = sorted(path.stem for path in SAMPLES_DIR.glob("*.msgpack"))


def make_samples() -> ModuleType:
    """docs/wire-samples/make_samples.py as a module (it is a script, not part of the package)."""
    if "make_samples" not in sys.modules:
        spec = importlib.util.spec_from_file_location("make_samples", SCRIPT)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["make_samples"] = module  # dataclasses look their module up while it executes
        spec.loader.exec_module(module)
    return sys.modules["make_samples"]


def golden(name: str) -> tuple[bytes, dict[str, Any]]:
    """The payload of sample ``name`` and its JSON document."""
    payload = (SAMPLES_DIR / f"{name}.msgpack").read_bytes()
    return payload, json.loads((SAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def python_description(topic: str, payload: bytes) -> dict[str, Any]:
    """What the Python client decodes from ``[topic, payload]``, described as the samples' JSON is."""
    result: StreamResult = decode_message([topic.encode(), payload])
    raw = msgpack.unpackb(payload)
    codecs = {key: raw[key]["codec"] for key in ("panoptic", "depth")}
    return make_samples().describe(result, codecs)


def differences(got: Any, want: Any, path: str = "$") -> list[str]:
    """Where two JSON values differ, strictly: an int is not a float, nor a bool an int; key order counts."""
    if type(got) is not type(want):
        return [f"{path}: {type(got).__name__} {got!r} instead of {type(want).__name__} {want!r}"]
    if isinstance(want, dict):
        if list(got) != list(want):
            return [f"{path}: keys {list(got)} instead of {list(want)}"]
        return [d for key in want for d in differences(got[key], want[key], f"{path}.{key}")]
    if isinstance(want, list):
        if len(got) != len(want):
            return [f"{path}: {len(got)} items instead of {len(want)}"]
        return [
            d
            for i, (g, w) in enumerate(zip(got, want, strict=True))
            for d in differences(g, w, f"{path}[{i}]")
        ]
    return [] if got == want else [f"{path}: {got!r} instead of {want!r}"]

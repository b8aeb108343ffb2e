"""Parsing and range checks for command-line values, with messages that show a valid example."""

from __future__ import annotations

import re
from pathlib import Path

from vkstream.launch.errors import UsageError

MIN_SIDE = 32
MAX_SIDE = 4096
_SIZE = re.compile(r"\s*([0-9]+)\s*[xX]\s*([0-9]+)\s*")
_SPLIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """``"1242x375"`` -> ``(1242, 375)`` as (width, height), each within [MIN_SIDE, MAX_SIDE]."""
    match = _SIZE.fullmatch(text)
    if match is None:
        raise UsageError(f"invalid {option} '{text}': expected WxH such as 1242x375")
    width, height = int(match.group(1)), int(match.group(2))
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise UsageError(
            f"invalid {option} '{text}': width and height must each be between {MIN_SIDE} and {MAX_SIDE}"
        )
    return width, height


def parse_index_list(text: str, option: str = "--frames") -> list[int]:
    """``"0,5,10"`` -> ``[0, 5, 10]``: distinct non-negative indices in the order given."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isascii() and part.isdigit() for part in parts):
        raise UsageError(f"invalid {option} '{text}': expected comma-separated frame numbers such as 0,5,10")
    indices = [int(part) for part in parts]
    if len(set(indices)) != len(indices):
        raise UsageError(f"invalid {option} '{text}': a frame is listed twice")
    return indices


def require_at_least(value: int, minimum: int, option: str) -> int:
    """``value`` itself, if it is at least ``minimum``."""
    if value < minimum:
        raise UsageError(f"invalid {option} {value}: must be at least {minimum}")
    return value


def require_in_range(value: float, low: float, high: float, option: str) -> float:
    """``value`` itself, if ``low < value <= high``."""
    if not low < value <= high:
        raise UsageError(f"invalid {option} {value:g}: must be greater than {low:g} and at most {high:g}")
    return value


def require_split_name(split: str, option: str = "--split") -> str:
    """``split`` itself, if it is a plain folder name: it becomes part of dataset paths."""
    if _SPLIT.fullmatch(split) is None or ".." in split:
        raise UsageError(f"invalid {option} '{split}': expected a folder name such as train or val")
    return split


def require_png(path: Path, option: str) -> Path:
    """``path`` itself, if it names a PNG file; other extensions would hold PNG data under a false name."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"invalid {option} '{path}': images are written as PNG, name it *.png")
    return path


def parse_number_list(text: str, option: str, kind: type[int] | type[float] = float) -> tuple[float, ...]:
    """``"1.25,1.1"`` -> ``(1.25, 1.1)``: distinct numbers in the order given."""
    try:
        values = tuple(kind(part) for part in text.split(","))
    except ValueError:
        example = "1,2,3,4" if kind is int else "1.25,1.1"
        raise UsageError(
            f"invalid {option} '{text}': expected comma-separated numbers such as {example}"
        ) from None
    if len(set(values)) != len(values):
        raise UsageError(f"invalid {option} '{text}': a value is listed twice")
    return values

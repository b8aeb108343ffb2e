"""A packet's share of a batch computed by an earlier node, and re-forming a batch from such shares.

A node computes on a whole batch and hands each packet a :class:`BatchItem` pointing into it. The
next node usually gets the same packets in the same order and then reuses the batch as it is; when
the runtime regrouped the packets (drops, other batch sizes), :func:`gather_batch` slices and
concatenates the items' batches instead.

Batches are dataclasses following one convention: every tensor is batch-first, every list holds
one entry per item, nested dataclasses follow the same convention, and any other value (such as
the image size) is the same for the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence, Sized
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor

B = TypeVar("B", bound=Sized)


@dataclass(frozen=True)
class BatchItem(Generic[B]):
    """Item ``index`` of ``batch``, computed by ``model`` (an identity that the next stage checks)."""

    batch: B
    index: int
    model: str = ""


def gather_batch(items: Sequence[BatchItem[B]]) -> B:
    """The batch of ``items`` in order: the items' own batch when they are exactly it, else a new one.

    Consecutive items of one batch become one slice (a view); the slices are concatenated.
    """
    if not items:
        raise ValueError("no items to batch")
    first = items[0].batch
    for item in items:
        if not 0 <= item.index < len(item.batch):
            raise ValueError(f"batch item {item.index} of a batch of {len(item.batch)}")
    if len(items) == len(first) and all(it.batch is first and it.index == i for i, it in enumerate(items)):
        return first
    runs: list[tuple[B, int, int]] = []
    for it in items:
        if runs and runs[-1][0] is it.batch and runs[-1][2] == it.index:
            runs[-1] = (it.batch, runs[-1][1], it.index + 1)
        else:
            runs.append((it.batch, it.index, it.index + 1))
    parts = [take(batch, start, stop) for batch, start, stop in runs]
    return parts[0] if len(parts) == 1 else concat(parts)


def take(batch: B, start: int, stop: int) -> B:
    """Items ``start:stop`` of a batch, as views of its tensors."""
    return _take(batch, start, stop)


def concat(parts: Sequence[B]) -> B:
    """One batch of the items of ``parts`` in order; ValueError if their batch-wide values differ."""
    if not parts:
        raise ValueError("no batches to concatenate")
    return _concat(list(parts), type(parts[0]).__name__)


def _take(value: Any, start: int, stop: int) -> Any:
    if isinstance(value, Tensor | list):
        return value[start:stop]
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{f.name: _take(getattr(value, f.name), start, stop) for f in fields(value)})
    return value


def _concat(values: list[Any], name: str) -> Any:
    first = values[0]
    if isinstance(first, Tensor) and all(isinstance(v, Tensor) for v in values):
        return torch.cat(values)
    if isinstance(first, list) and all(isinstance(v, list) for v in values):
        return [x for v in values for x in v]
    if is_dataclass(first) and not isinstance(first, type) and all(type(v) is type(first) for v in values):
        return replace(
            first,
            **{
                f.name: _concat([getattr(v, f.name) for v in values], f"{name}.{f.name}")
                for f in fields(first)
            },
        )
    differ = [v for v in values[1:] if isinstance(first, Tensor) or isinstance(v, Tensor) or v != first]
    if differ:
        raise ValueError(f"cannot batch items whose {name} differ: {_shown(first)} and {_shown(differ[0])}")
    return first


def _shown(value: Any) -> str:
    return f"a tensor {tuple(value.shape)}" if isinstance(value, Tensor) else repr(value)

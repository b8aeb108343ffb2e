"""The network's three parts as run online: precision, compilation, memory format and batch buckets.

Each part of :class:`~vkstream.models.video_knet.VideoKNet` (backbone and neck, kernel head, depth
head) is a :class:`Stage` with its own :class:`StageOptions`, so a deployment can, say, run the
backbone compiled in bf16 and keep the kernel head in fp32. A compiled stage (or an exported one,
which exists per batch size) sees static shapes only: batches are padded to the next of
:data:`BATCH_BUCKETS`, and :meth:`Stage.warm_up` compiles every bucket before the first live frame.
Outputs always come back as float32, cut to the real batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext

import torch
from torch import Tensor, nn

from vkstream.models.options import StageOptions

log = logging.getLogger(__name__)

BATCH_BUCKETS: tuple[int, ...] = (1, 2, 4, 8)
"""Batch sizes a compiled or exported stage is built for; a batch runs padded to the next one."""
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

StageFn = Callable[..., tuple[Tensor, ...]]


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively; elsewhere autocast emulates it, slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = torch.cpu
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(cpu, name, lambda: False)() for name in checks)
    return False


def resolve_precision(options: StageOptions, device: torch.device) -> StageOptions:
    """``options`` with precision ``auto`` made bf16 or fp32 for ``device``."""
    if options.precision != "auto":
        return options
    return options.model_copy(update={"precision": "bf16" if native_bf16(device) else "fp32"})


def bucket_for(batch: int, buckets: Sequence[int] = BATCH_BUCKETS) -> int:
    """The smallest bucket that holds ``batch`` (the largest one for bigger batches, run in chunks)."""
    for size in buckets:
        if batch <= size:
            return size
    return buckets[-1]


def _pad(t: Tensor, size: int) -> Tensor:
    """``t`` padded along the batch dimension to ``size`` items by repeating its last item."""
    if t.shape[0] == size:
        return t
    return torch.cat([t, t[-1:].expand(size - t.shape[0], *t.shape[1:])])


class Stage:
    """One part of the network: a module (compiled or not) or per-bucket exported callables.

    ``fn`` is an ``nn.Module`` run with ``options``, or a mapping from batch bucket to a callable
    with that static batch size (an exported program or an AOTInductor package).
    """

    def __init__(
        self,
        name: str,
        fn: nn.Module | Mapping[int, StageFn],
        device: torch.device,
        options: StageOptions | None = None,
    ) -> None:
        self.name = name
        self.device = device
        self.options = resolve_precision(options or StageOptions(), device)
        if isinstance(fn, nn.Module):
            if self.options.channels_last:
                fn = fn.to(memory_format=torch.channels_last)
            self._fns: dict[int, StageFn] | None = None
            self._module: StageFn = (
                torch.compile(
                    fn,
                    mode=None if self.options.compile == "default" else self.options.compile,
                    dynamic=False,
                )
                if self.options.static_shapes
                else fn
            )
            self.buckets: tuple[int, ...] = BATCH_BUCKETS if self.options.static_shapes else ()
        else:
            self._fns = dict(sorted(fn.items()))
            self.buckets = tuple(self._fns)
        self._autocast = self.options.precision != "fp32"

    def __call__(self, *inputs: Tensor) -> tuple[Tensor, ...]:
        batch = int(inputs[0].shape[0])
        if not self.buckets:
            return self._run(self._module, inputs)
        largest = self.buckets[-1]
        if batch > largest:  # beyond the largest bucket: chunks of it
            parts = [self(*(t[i : i + largest] for t in inputs)) for i in range(0, batch, largest)]
            return tuple(torch.cat(chunk) for chunk in zip(*parts, strict=True))
        size = bucket_for(batch, self.buckets)
        fn = self._fns[size] if self._fns is not None else self._module
        out = self._run(fn, tuple(_pad(t, size) for t in inputs))
        return tuple(o[:batch] for o in out)

    def _run(self, fn: StageFn, inputs: Sequence[Tensor]) -> tuple[Tensor, ...]:
        if self.options.channels_last:
            inputs = [t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t for t in inputs]
        context = (
            torch.autocast(self.device.type, dtype=_DTYPES[self.options.precision])
            if self._autocast
            else nullcontext()
        )
        with context:
            out = fn(*inputs)
        return tuple(o.float() if o.is_floating_point() else o for o in out)

    def warm_up(self, example: Callable[[int], tuple[Tensor, ...]], max_batch: int | None = None) -> float:
        """Run every bucket up to ``max_batch`` once (compiling it), from ``example(batch)`` inputs;
        returns the seconds."""
        started = time.perf_counter()
        sizes = [
            b
            for b in self.buckets or (1,)
            if max_batch is None or b <= bucket_for(max_batch, self.buckets or (1,))
        ]
        for size in sizes:
            with torch.inference_mode():
                self(*example(size))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - started
        log.info("stage %s warmed up for batches %s in %.1f s", self.name, sizes, seconds)
        return seconds

"""How the network's parts run online, as plain settings: importable without torch.

The pipeline's config (:mod:`vkstream.nodes.model_spec`) validates these in every actor, including
those that never run the model, so they live apart from :mod:`vkstream.models.stages`.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

Precision = Literal["fp32", "bf16", "fp16", "auto"]
CompileMode = Literal["none", "default", "reduce-overhead", "max-autotune"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
COMPILE_MODES: tuple[str, ...] = get_args(CompileMode)
STAGE_NAMES: tuple[str, ...] = ("backbone_neck", "kernel_head", "depth_head")


class StageOptions(BaseModel):
    """How one part of the network runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    precision: Precision = Field(
        "fp32",
        description="fp32, or bf16/fp16 autocast (weights stay fp32); auto: bf16 where the device computes "
        "it natively (CUDA GPUs with bf16, CPUs with AVX512-BF16 or AMX), else fp32",
    )
    compile: CompileMode = Field(
        "none",
        description="torch.compile mode: none, default, reduce-overhead (CUDA graphs on a GPU) or "
        "max-autotune; compiled stages pad batches to the buckets 1, 2, 4, 8",
    )
    channels_last: bool = Field(False, description="NHWC memory format for the stage's convolutions")

    @property
    def static_shapes(self) -> bool:
        return self.compile != "none"

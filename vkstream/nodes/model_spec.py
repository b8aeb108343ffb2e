"""The pipeline's ``model:`` block: which weights, on which device, at which precision, compiled how.

Named once per pipeline and referred to by every stage node, so the stages cannot silently run two
models; each stage loads only its own part of the weights (:mod:`vkstream.nodes.model_nodes`). A
stage node's own ``precision``/``compile``/``channels_last`` options override the block's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PositiveInt,
    model_validator,
)

from vkstream.models.device import DEVICE_NAMES, check_device_name
from vkstream.models.options import CompileMode, Precision

Device = Annotated[str, AfterValidator(check_device_name)]
Association = Literal["embedding", "mask_iou"]


def _frame_size(value: object) -> tuple[int, int]:
    """``"WxH"`` -> (W, H)."""
    if isinstance(value, str):
        width, sep, height = value.lower().partition("x")
        if sep and width.isdigit() and height.isdigit() and int(width) >= 32 and int(height) >= 32:
            return int(width), int(height)
    raise ValueError(f"frame sizes are 'WxH' with both at least 32, e.g. '1242x375', got {value!r}")


FrameSize = Annotated[
    object, AfterValidator(_frame_size), PlainSerializer(lambda size: f"{size[0]}x{size[1]}", return_type=str)
]
"""(W, H), written and dumped as ``"WxH"``: a dumped config validates again as it was."""


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    checkpoint: Path = Field(
        description="the model's checkpoint file (vkstream train writes model.pt) or an export directory "
        "(vkstream export)"
    )
    device: Device = Field(
        default="auto", description=f"{DEVICE_NAMES}; auto: cuda where the cluster has GPUs"
    )
    precision: Precision = Field(
        default="fp32",
        description="fp32, or bf16/fp16 autocast of the stages (weights and outputs stay fp32)",
    )
    compile: CompileMode = Field(
        default="none",
        description="torch.compile mode of the stages: none, default, reduce-overhead (CUDA graphs on a "
        "GPU) or max-autotune; compiled stages run batches padded to 1, 2, 4 or 8 and need warm_up sizes",
    )
    channels_last: bool = Field(default=False, description="NHWC memory format for the stages' convolutions")
    warm_up: list[FrameSize] = Field(
        default_factory=list,
        description="frame sizes (WxH) to compile or first-run every stage for when the pipeline starts, "
        "so that no live frame waits for it (an export directory warms its own size)",
    )
    association: Association | None = Field(
        default=None,
        description="replace the tracker association the checkpoint was trained with (embedding, mask_iou)",
    )
    threads: PositiveInt | None = Field(
        default=None, description="torch CPU threads while a stage computes on the CPU; null: torch's choice"
    )
    split_after: Literal[1, 2] | None = Field(
        default=None,
        description="on a CPU, the model's nodes in two actors that run consecutive frames side by side: "
        "the first N model nodes in one, the others in the next, each with `threads` threads and half "
        "the model's CPU reservation. 1: backbone | kernel tracker and depth head (even halves); 2: "
        "backbone and kernel tracker | depth head (room beside it for heavy sinks); null: one actor. "
        "On a GPU the model stays in one actor",
    )

    @model_validator(mode="after")
    def _split_models_know_their_threads(self) -> ModelSpec:
        if self.split_after is not None and self.threads is None:
            raise ValueError(
                "split_after runs the model in two actors on a CPU: give threads, each actor's torch "
                "threads (half the cores, e.g. 1 on 2 cores), or both would take every core"
            )
        return self

    @model_validator(mode="after")
    def _compiled_stages_know_their_sizes(self) -> ModelSpec:
        if self.compile != "none" and not self.warm_up:
            raise ValueError(
                "compile needs warm_up: the frame sizes (WxH) to compile for, so that no live frame "
                "waits for a compilation"
            )
        return self

"""The pipeline's YAML config: the chain of nodes, the streams, and how the runtime treats them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from vkstream.client.message import check_name
from vkstream.nodes.sources import SourceSpec

DEFAULT_CONTROL_ENDPOINT = "tcp://127.0.0.1:5561"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Resources(_Strict):
    """What an actor asks Ray for; nodes fused into one actor ask for the largest of each."""

    num_cpus: float = Field(default=1.0, ge=0, description="logical CPUs reserved for the actor")
    num_gpus: float = Field(
        default=0.0, ge=0, description="GPUs (fractions share one); 0 with device cuda means 1"
    )
    custom: dict[str, float] = Field(
        default_factory=dict, description="custom Ray resources, e.g. {camera_host: 1} to pin to a node"
    )


class NodeSpec(_Strict):
    """One node of the chain."""

    name: str = Field(description="unique name, used in telemetry and actor names")
    type: str = Field(description="backbone, kernel_tracker, depth_head, publisher, or package.module:Class")
    options: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the node")
    device: str | None = Field(
        default=None,
        description="auto, cpu, cuda or cuda:N for nodes that compute on a device (passed to the node); "
        "consecutive nodes on one device share an actor so tensors pass by reference",
    )
    actor: str | None = Field(
        default=None, description="run in the actor of this name (consecutive nodes); overrides fusion"
    )
    resources: Resources = Field(default_factory=Resources, description="Ray resources of the node")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "node name")


class RetryConfig(_Strict):
    """Reopening a camera that failed to open or disconnected: exponential backoff."""

    initial_s: float = Field(default=0.5, gt=0, description="first wait before reopening")
    max_s: float = Field(default=10.0, gt=0, description="longest wait between attempts")
    factor: float = Field(default=2.0, ge=1, description="wait growth per failed attempt")
    recorded_attempts: int = Field(
        default=3,
        ge=1,
        description="a recording (file, folder, replay) that fails to open this many times in a row "
        "has failed for good; live cameras are retried for as long as the stream is attached",
    )


class StreamSpec(_Strict):
    """A camera or replay feeding the pipeline."""

    id: str = Field(description="stream id: topic suffix and key of every per-stream figure")
    source: SourceSpec = Field(description="where frames come from (kind: video, camera, url, images, kitti)")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="reconnection backoff")
    resources: Resources = Field(
        default_factory=lambda: Resources(num_cpus=0),
        description="Ray resources of the stream's ingest actor, e.g. {custom: {camera_host: 1}} to read "
        "a USB camera on the node it is plugged into",
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        return check_name(value, "stream id")


AUTO_BATCH = {"cpu": 1, "accelerator": 8}
"""``max_batch: auto``: on a CPU a batch of frames costs as much as the frames one by one (measured,
docs/benchmarks.md) and only adds waiting; on a GPU one pass over many streams is what shares it."""


class BatchingConfig(_Strict):
    """Frames of different streams share one forward pass: up to ``max_batch``, waiting ``max_wait_ms``."""

    max_batch: int | Literal["auto"] = Field(
        default="auto", description="most frames (streams) in one batch; auto: 1 on a CPU, 8 on a GPU"
    )

    @field_validator("max_batch")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("max_batch must be at least 1 (or auto)")
        return value

    def for_device(self, device: str | None) -> BatchingConfig:
        """The settings of an actor on ``device``, with ``auto`` resolved."""
        if self.max_batch != "auto":
            return self
        size = AUTO_BATCH["cpu"] if device == "cpu" else AUTO_BATCH["accelerator"]
        return self.model_copy(update={"max_batch": size})

    max_wait_ms: float = Field(
        default=5.0, ge=0, description="longest a pending frame waits for other streams' frames"
    )


class BackpressureConfig(_Strict):
    """Bounded latency: a stream's frames waiting at each actor are capped; the oldest is dropped."""

    max_pending: int = Field(
        default=1, ge=1, description="frames per stream waiting at each actor; more drop the oldest"
    )
    max_in_flight: int = Field(
        default=2,
        ge=1,
        description="for replays at speed 0 (as fast as possible): frames per stream between ingest "
        "and publication; the replay waits instead of dropping",
    )


class TelemetryConfig(_Strict):
    window: int = Field(default=1000, ge=10, description="latest frames per stream in the percentiles")
    skip_first: int = Field(default=5, ge=0, description="frames per stream left out while warming up")
    report_every_s: float = Field(default=5.0, ge=0, description="vkstream run prints telemetry this often")


class ControlConfig(_Strict):
    enabled: bool = Field(default=True, description="serve the control endpoint (vkstream ctl)")
    endpoint: str = Field(
        default=DEFAULT_CONTROL_ENDPOINT, description="ZeroMQ REP endpoint; loopback unless allow_remote"
    )
    allow_remote: bool = Field(default=False, description="allow a non-loopback control endpoint")


class RayConfig(_Strict):
    address: str | None = Field(
        default=None, description="existing cluster ('auto' or HOST:PORT); null starts a local Ray"
    )
    namespace: str = Field(default="vkstream", description="Ray namespace of the pipeline's actors")
    num_cpus: int | None = Field(default=None, ge=1, description="local Ray only: logical CPUs")
    num_gpus: int | None = Field(default=None, ge=0, description="local Ray only: GPUs")
    max_restarts: int = Field(default=3, ge=-1, description="restarts of a dead node actor (-1: always)")
    start_timeout_s: float = Field(default=120.0, gt=0, description="longest wait for actors to start")


class PipelineConfig(_Strict):
    """A whole pipeline: ``vkstream run CONFIG``."""

    name: str = Field(default="vkstream", description="prefix of the pipeline's Ray actor names")
    nodes: list[NodeSpec] = Field(min_length=1, description="the chain, from the first node to the sink")
    streams: list[StreamSpec] = Field(default_factory=list, description="streams attached at start")
    fuse: bool = Field(default=True, description="fuse consecutive nodes on one device into one actor")
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    backpressure: BackpressureConfig = Field(default_factory=BackpressureConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "pipeline name")

    @model_validator(mode="after")
    def _unique(self) -> PipelineConfig:
        for what, names in (("node", [n.name for n in self.nodes]), ("stream", [s.id for s in self.streams])):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what} names must be unique: {', '.join(repeated)} repeated")
        seen: set[str] = set()
        previous = None
        for node in self.nodes:
            if node.actor is not None and node.actor != previous and node.actor in seen:
                raise ValueError(f"nodes of actor {node.actor!r} must be consecutive in the chain")
            if node.actor is not None:
                seen.add(node.actor)
            previous = node.actor
        return self

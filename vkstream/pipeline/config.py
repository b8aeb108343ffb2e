"""The pipeline's YAML config: the model, the graph of nodes, the streams, how the runtime treats them.

Validating a config validates the whole graph too (:func:`vkstream.pipeline.graph.build_graph`):
every edge, every port's type and every node's options, before anything starts.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from vkstream.nodes.curve_server import CurveServerConfig
from vkstream.nodes.model_spec import Device, ModelSpec
from vkstream.nodes.sources import source_spec_type
from vkstream.pipeline.graph import build_graph
from vkstream.wire import check_endpoint, check_name, is_loopback_endpoint

SourceSpec = source_spec_type()
"""Any registered source; ``kind`` picks which (video, camera, url, images, kitti, and plug-ins')."""

DEFAULT_CONTROL_ENDPOINT = "tcp://127.0.0.1:5561"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _named(what: str) -> Any:
    """A name that can be part of a topic or an actor name (letters, digits, ``_ . : -``)."""
    return Annotated[str, AfterValidator(lambda value: check_name(value, what))]


class Resources(_Strict):
    """What an actor asks Ray for; nodes fused into one actor ask for the largest of each."""

    num_cpus: float = Field(default=1.0, ge=0, description="logical CPUs reserved for the actor")
    num_gpus: float = Field(default=0.0, ge=0, description="GPUs (fractions share one); 0 on cuda means 1")
    custom: dict[str, float] = Field(
        default_factory=dict, description="custom Ray resources, e.g. {gpu_host: 1}"
    )


class NodeSpec(_Strict):
    """One node of the graph."""

    name: _named("node name") = Field(description="unique; in port references, telemetry, actor names")
    type: str = Field(
        description="a registered node type (publisher, evaluator, ...) or package.module:Class"
    )
    inputs: list[str] | dict[str, str] | None = Field(
        default=None,
        description="NODE.PORT or NODE (its outputs matched by name) or {INPUT: NODE.PORT}; ingest is the "
        "camera (ingest.image, ingest.truth); null: each input from the nearest earlier node having it",
    )
    options: dict[str, Any] = Field(default_factory=dict, description="the node's options")
    device: Device | None = Field(
        default=None, description="auto, cpu, cuda or cuda:N (model nodes: the model's); equal ones fuse"
    )
    actor: str | None = Field(default=None, description="run in the actor of this name (consecutive nodes)")
    resources: Resources = Field(default_factory=Resources, description="Ray resources of the node")


class RetryConfig(_Strict):
    """Reopening a camera that failed to open or disconnected: exponential backoff."""

    initial_s: float = Field(default=0.5, gt=0, description="first wait before reopening")
    max_s: float = Field(default=10.0, gt=0, description="longest wait between attempts")
    factor: float = Field(default=2.0, ge=1, description="wait growth per failed attempt")
    recorded_attempts: int = Field(
        default=3,
        ge=1,
        description="failed opens in a row after which a recording has failed (cameras: never)",
    )


class StreamSpec(_Strict):
    """A camera or replay feeding the pipeline."""

    id: _named("stream id") = Field(description="stream id: topic suffix and key of every per-stream figure")
    source: SourceSpec = Field(
        description="where frames come from: kind video, camera, url, images, kitti, ..."
    )  # type: ignore[valid-type]
    retry: RetryConfig = Field(default_factory=RetryConfig, description="reconnection backoff")
    resources: Resources = Field(
        default_factory=lambda: Resources(num_cpus=0),
        description="of its ingest actor, e.g. {custom: {cam_host: 1}}",
    )


AUTO_BATCH = {"cpu": 1, "accelerator": 8}
"""``max_batch: auto``: on a CPU a batch takes as long as its frames one after another, or saves up
to a third of their CPU on some hosts, while every frame in it waits for the slowest
(docs/benchmarks.md): latency first. On a GPU one pass over many streams is what shares it."""


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

    max_wait_ms: float = Field(
        default=5.0, ge=0, description="longest a frame waits for other streams' frames"
    )

    def for_device(self, device: str | None) -> BatchingConfig:
        """The settings of an actor on ``device``, with ``auto`` resolved."""
        if self.max_batch != "auto":
            return self
        size = AUTO_BATCH["cpu"] if device == "cpu" else AUTO_BATCH["accelerator"]
        return self.model_copy(update={"max_batch": size})


class BackpressureConfig(_Strict):
    """Bounded latency: a stream's frames waiting at each actor are capped; the oldest is dropped."""

    max_pending: int = Field(default=1, ge=1, description="frames per stream waiting at each actor")
    max_in_flight: int = Field(
        default=2, ge=1, description="replays at speed 0: frames per stream between ingest and the sinks"
    )


class TelemetryConfig(_Strict):
    window: int = Field(default=1000, ge=10, description="latest frames per stream in the percentiles")
    skip_first: int = Field(default=5, ge=0, description="frames per stream left out while warming up")
    report_every_s: float = Field(default=5.0, ge=0, description="vkstream run prints telemetry this often")


class ControlConfig(_Strict):
    """The control endpoint of ``vkstream ctl``: loopback, or beyond it only with CURVE keys."""

    enabled: bool = Field(default=True, description="serve the control endpoint (vkstream ctl)")
    endpoint: str = Field(default=DEFAULT_CONTROL_ENDPOINT, description="ZeroMQ REP endpoint (loopback)")
    allow_remote: bool = Field(
        default=False, description="allow a non-loopback control endpoint (it then needs curve)"
    )
    curve: CurveServerConfig | None = Field(
        default=None, description="CURVE keys: only clients with admitted keys may control the pipeline"
    )

    @model_validator(mode="after")
    def _remote_needs_keys(self) -> ControlConfig:
        check_endpoint(self.endpoint, self.allow_remote)
        if self.curve is None and not is_loopback_endpoint(self.endpoint):
            raise ValueError(
                f"control endpoint {self.endpoint!r} is not loopback: set control.curve (keys from "
                "'vkstream keys'), or anyone who reaches it could attach files or stop the pipeline"
            )
        return self


LOCAL_NODE_IP = "127.0.0.1"
"""Where a local Ray binds: on loopback nothing outside the machine can reach its ports, and it does
not depend on which network the machine happens to be on."""


INLINE_BYTES = 8 * 1024 * 1024
"""Ray passes arguments above 100 kB through its object store: a put, a seal and a fetch, each a round
trip through the raylet. A frame's image or a batch's results below this size go inside the call
instead; on 2 cores the raylet then takes under 1 % of a core instead of 14 % (two 10 Hz replays)."""


class RayConfig(_Strict):
    address: str | None = Field(default=None, description="a cluster ('auto', HOST:PORT); null: a local Ray")
    namespace: str = Field(default="vkstream", description="Ray namespace of the pipeline's actors")
    num_cpus: int | None = Field(default=None, ge=1, description="local Ray only: logical CPUs")
    num_gpus: int | None = Field(default=None, ge=0, description="local Ray only: GPUs")
    node_ip: str = Field(
        default=LOCAL_NODE_IP,
        description="local Ray only: the address its processes bind (loopback: unreachable from elsewhere)",
    )
    inline_bytes: int = Field(
        default=INLINE_BYTES,
        ge=0,
        description="local Ray only: call arguments up to this size (a frame, a batch's results) travel "
        "inside the call instead of through the object store",
    )
    max_restarts: int = Field(default=3, ge=-1, description="restarts of a dead node actor (-1: always)")
    start_timeout_s: float = Field(default=120.0, gt=0, description="longest wait for actors to start")

    def local_init_options(self) -> dict[str, Any]:
        """``ray.init`` arguments of a local Ray: its address and how it passes call arguments."""
        return {
            "_node_ip_address": self.node_ip,
            "_system_config": {"max_direct_call_object_size": self.inline_bytes},
        }


class PipelineConfig(_Strict):
    """A whole pipeline: ``vkstream run CONFIG``."""

    name: _named("pipeline name") = Field(default="vkstream", description="prefix of the Ray actor names")
    model: ModelSpec | None = Field(default=None, description="the model that the model nodes run")
    nodes: list[NodeSpec] = Field(min_length=1, description="the graph's nodes, each after those feeding it")
    streams: list[StreamSpec] = Field(default_factory=list, description="streams attached at start")
    fuse: bool = Field(default=True, description="fuse consecutive nodes on one device into one actor")
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    backpressure: BackpressureConfig = Field(default_factory=BackpressureConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    control: ControlConfig = Field(default_factory=ControlConfig)
    ray: RayConfig = Field(default_factory=RayConfig)

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
                raise ValueError(f"nodes of actor {node.actor!r} must be consecutive in the list")
            if node.actor is not None:
                seen.add(node.actor)
            previous = node.actor
        build_graph(self)  # every edge and every node's options, or a one-line error
        return self

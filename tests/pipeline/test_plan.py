"""Which nodes share an actor, what the actors ask for, and config errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vkstream.pipeline.config import PipelineConfig
from vkstream.pipeline.plan import missing_resources, plan_actors
from vkstream.viz.telemetry import describe_plan


def chain(**overrides: object) -> dict:
    return {
        "model": {"checkpoint": "model.pt", "device": "auto"},
        "nodes": [
            {"name": "backbone", "type": "backbone"},
            {"name": "kernel_tracker", "type": "kernel_tracker"},
            {"name": "depth_head", "type": "depth_head"},
            {"name": "publisher", "type": "publisher", "resources": {"num_cpus": 0.5}},
        ],
        **overrides,
    }


def test_nodes_on_one_device_fuse_into_one_actor() -> None:
    plans = plan_actors(PipelineConfig.model_validate(chain()), gpus=0).actors
    assert [[n.name for n in p.nodes] for p in plans] == [
        ["backbone", "kernel_tracker", "depth_head"],
        ["publisher"],
    ]
    assert plans[0].device == "cpu" and plans[0].resources.num_gpus == 0
    assert plans[0].batching.max_batch == 1  # auto: batching buys nothing on a CPU
    assert plans[1].device is None and plans[1].resources.num_cpus == 0.5


def test_on_a_gpu_cluster_the_fused_actor_asks_for_a_gpu() -> None:
    plan = plan_actors(PipelineConfig.model_validate(chain()), gpus=1)
    plans = plan.actors
    assert plans[0].device == "cuda" and plans[0].resources.num_gpus == 1
    assert plans[0].batching.max_batch == 8
    assert missing_resources(plan, {"CPU": 8, "GPU": 1}) == []
    assert missing_resources(plan, {"CPU": 8}) == [
        "actor 'backbone+kernel_tracker+depth_head' needs GPU 1, the cluster has 0"
    ]


def test_without_fusion_or_with_named_actors_nodes_are_placed_as_asked() -> None:
    plans = plan_actors(PipelineConfig.model_validate(chain(fuse=False)), gpus=0).actors
    assert [p.name for p in plans] == ["backbone", "kernel_tracker", "depth_head", "publisher"]
    # Every edge between actors carries exactly what its receiver takes.
    assert [(p.sources, p.routes) for p in plans] == [
        ({"ingest"}, (("kernel_tracker", ("backbone.features",)), ("depth_head", ("backbone.features",)))),
        ({"backbone"}, (("depth_head", ("kernel_tracker.segments",)),)),
        ({"backbone", "kernel_tracker"}, (("publisher", ("depth_head.depth", "depth_head.panoptic")),)),
        ({"depth_head"}, ()),
    ]
    config = chain()
    config["nodes"][2]["actor"] = "depth"
    config["nodes"][3]["actor"] = "depth"
    plans = plan_actors(PipelineConfig.model_validate(config), gpus=0).actors
    assert [p.name for p in plans] == ["backbone+kernel_tracker", "depth"]


def test_on_a_cpu_a_split_model_runs_in_two_actors_and_on_a_gpu_in_one() -> None:
    def actors(split_after: int, gpus: int, **node_changes: object) -> list[tuple[str, float]]:
        config = chain()
        config["model"].update(split_after=split_after, threads=1)
        config["nodes"][0]["resources"] = {"num_cpus": 1.0}
        config["nodes"][2].update(node_changes)
        return [
            (p.name, p.resources.num_cpus)
            for p in plan_actors(PipelineConfig.model_validate(config), gpus).actors
        ]

    # the halves share the model's CPU reservation
    assert actors(1, 0) == [("backbone", 0.5), ("kernel_tracker+depth_head", 0.5), ("publisher", 0.5)]
    assert actors(2, 0) == [("backbone+kernel_tracker", 0.5), ("depth_head", 0.5), ("publisher", 0.5)]
    assert actors(1, 1) == [("backbone+kernel_tracker+depth_head", 1.0), ("publisher", 0.5)]
    # a node given its own actor keeps it
    assert actors(1, 0, actor="depth") == [
        ("backbone", 0.5),
        ("kernel_tracker", 0.5),
        ("depth", 1.0),
        ("publisher", 0.5),
    ]
    with pytest.raises(ValidationError, match="split_after"):
        PipelineConfig.model_validate(chain(model={"checkpoint": "model.pt", "split_after": 3, "threads": 1}))
    with pytest.raises(
        ValidationError, match="split_after runs the model in two actors on a CPU: give threads"
    ):
        PipelineConfig.model_validate(chain(model={"checkpoint": "model.pt", "split_after": 1}))


def test_the_dry_run_text_names_every_actor_and_stream() -> None:
    config = PipelineConfig.model_validate(
        chain(streams=[{"id": "front", "source": {"kind": "camera", "device": 0}}])
    )
    text = describe_plan(config, plan_actors(config, gpus=0))
    assert "depth_head     [depth_head] <- backbone.features, kernel_tracker.segments\n" in text
    assert "publisher      [publisher] <- depth_head.panoptic, depth_head.depth  (sink)" in text
    assert "Model: model.pt on auto (fp32), run by backbone, kernel_tracker, depth_head" in text
    assert "vkstream-source-front" in text
    assert "vkstream-backbone+kernel_tracker+depth_head: backbone [backbone]" in text
    assert "on cpu (CPU 1; no batching)" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"nodes": []}, "at least 1"),
        ({"streams": [{"id": "a b", "source": {"kind": "camera", "device": 0}}]}, "invalid stream id"),
        (
            {"streams": [{"id": "a", "source": {"kind": "camera", "device": 0}}] * 2},
            "stream names must be unique",
        ),
        ({"batching": {"max_batch": 0}}, "max_batch must be at least 1"),
        ({"bogus": 1}, "Extra inputs"),
    ],
)
def test_bad_configs_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PipelineConfig.model_validate(chain(**change))


def test_unknown_node_types_and_devices_fail_before_starting() -> None:
    config = chain()
    config["nodes"][0]["type"] = "nonsense"
    with pytest.raises(ValidationError, match=r"nodes\[0\] \(backbone\): unknown node type 'nonsense'"):
        PipelineConfig.model_validate(config)
    config = chain()
    config["nodes"][0]["device"] = "tpu"
    with pytest.raises(ValidationError, match="unknown device 'tpu'"):
        PipelineConfig.model_validate(config)
    config = chain()
    config["model"]["device"] = "cuda:x"
    with pytest.raises(ValidationError, match="unknown device 'cuda:x'"):
        PipelineConfig.model_validate(config)


def test_actor_groups_must_be_consecutive() -> None:
    config = chain()
    config["nodes"][0]["actor"] = "x"
    config["nodes"][2]["actor"] = "x"
    with pytest.raises(ValidationError, match="consecutive"):
        PipelineConfig.model_validate(config)

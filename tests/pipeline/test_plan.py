"""Which nodes share an actor, what the actors ask for, and config errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vkstream.pipeline.config import PipelineConfig
from vkstream.pipeline.plan import describe_plan, missing_resources, plan_actors

MODEL = {"checkpoint": "model.pt"}


def chain(**overrides: object) -> dict:
    return {
        "nodes": [
            {"name": "backbone", "type": "backbone", "device": "auto", "options": MODEL},
            {"name": "kernel_tracker", "type": "kernel_tracker", "device": "auto", "options": MODEL},
            {"name": "depth_head", "type": "depth_head", "device": "auto", "options": MODEL},
            {"name": "publisher", "type": "publisher", "resources": {"num_cpus": 0.5}},
        ],
        **overrides,
    }


def test_nodes_on_one_device_fuse_into_one_actor() -> None:
    plans = plan_actors(PipelineConfig.model_validate(chain()), gpus=0)
    assert [[n.name for n in p.nodes] for p in plans] == [
        ["backbone", "kernel_tracker", "depth_head"],
        ["publisher"],
    ]
    assert plans[0].device == "cpu" and plans[0].resources.num_gpus == 0
    assert plans[0].batching.max_batch == 1  # auto: batching buys nothing on a CPU
    assert plans[1].device is None and plans[1].resources.num_cpus == 0.5


def test_on_a_gpu_cluster_the_fused_actor_asks_for_a_gpu() -> None:
    plans = plan_actors(PipelineConfig.model_validate(chain()), gpus=1)
    assert plans[0].device == "cuda" and plans[0].resources.num_gpus == 1
    assert plans[0].batching.max_batch == 8
    assert missing_resources(plans, {"CPU": 8, "GPU": 1}) == []
    assert missing_resources(plans, {"CPU": 8}) == [
        "actor 'backbone+kernel_tracker+depth_head' needs GPU 1, the cluster has 0"
    ]


def test_without_fusion_or_with_named_actors_nodes_are_placed_as_asked() -> None:
    plans = plan_actors(PipelineConfig.model_validate(chain(fuse=False)), gpus=0)
    assert [p.name for p in plans] == ["backbone", "kernel_tracker", "depth_head", "publisher"]
    config = chain()
    config["nodes"][2]["actor"] = "depth"
    config["nodes"][3]["actor"] = "depth"
    plans = plan_actors(PipelineConfig.model_validate(config), gpus=0)
    assert [p.name for p in plans] == ["backbone+kernel_tracker", "depth"]


def test_the_dry_run_text_names_every_actor_and_stream() -> None:
    config = PipelineConfig.model_validate(
        chain(streams=[{"id": "front", "source": {"kind": "camera", "device": 0}}])
    )
    text = describe_plan(config, plan_actors(config, gpus=0))
    assert "backbone -> kernel_tracker -> depth_head -> publisher" in text
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
    with pytest.raises(ValueError, match="unknown node type 'nonsense'"):
        plan_actors(PipelineConfig.model_validate(config), gpus=0)
    config = chain()
    config["nodes"][0]["device"] = "tpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        plan_actors(PipelineConfig.model_validate(config), gpus=0)


def test_actor_groups_must_be_consecutive() -> None:
    config = chain()
    config["nodes"][0]["actor"] = "x"
    config["nodes"][2]["actor"] = "x"
    with pytest.raises(ValidationError, match="consecutive"):
        PipelineConfig.model_validate(config)

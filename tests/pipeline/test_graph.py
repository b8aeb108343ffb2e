"""The graph is checked before anything starts: edges, port types, options; fan-out and fan-in wire."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vkstream.pipeline.config import PipelineConfig
from vkstream.pipeline.graph import build_graph

MODEL = {"checkpoint": "model.pt"}
STAGES = [{"name": n, "type": n} for n in ("backbone", "kernel_tracker", "depth_head")]


def graph(*nodes: dict, model: dict | None = MODEL) -> dict[str, dict[str, str]]:
    config = PipelineConfig.model_validate({"model": model, "nodes": [*STAGES, *nodes]})
    return {n.name: dict(n.wiring) for n in build_graph(config)}


def refused(*nodes: dict, model: dict | None = MODEL) -> str:
    with pytest.raises(ValidationError) as caught:
        graph(*nodes, model=model)
    (error,) = caught.value.errors()
    assert "\n" not in error["msg"]
    return error["msg"].removeprefix("Value error, ")


def test_nodes_without_inputs_take_each_from_the_nearest_earlier_node_that_has_it() -> None:
    wiring = graph({"name": "publisher", "type": "publisher"}, {"name": "evaluator", "type": "evaluator"})
    assert wiring["backbone"] == {"image": "ingest.image"}
    assert wiring["depth_head"] == {"features": "backbone.features", "segments": "kernel_tracker.segments"}
    # Fan-out: the publisher and the evaluator both take the depth head's outputs; the evaluator
    # takes the ground truth straight from the ingest (fan-in), not through the model.
    assert wiring["publisher"] == {"panoptic": "depth_head.panoptic", "depth": "depth_head.depth"}
    assert wiring["evaluator"] == {**wiring["publisher"], "truth": "ingest.truth"}


def test_inputs_name_ports_nodes_or_map_inputs_explicitly() -> None:
    explicit = {"panoptic": "depth_head", "depth": "depth_head.depth", "truth": "ingest.truth"}
    wiring = graph(
        {"name": "pub", "type": "publisher", "inputs": ["depth_head.panoptic", "depth_head.depth"]},
        {"name": "rec", "type": "recorder", "inputs": ["depth_head"], "options": {"path": "x.mcap"}},
        {"name": "eval", "type": "evaluator", "inputs": explicit},
    )
    assert wiring["pub"] == wiring["rec"] == {"panoptic": "depth_head.panoptic", "depth": "depth_head.depth"}
    assert wiring["eval"] == {**wiring["pub"], "truth": "ingest.truth"}
    # an optional input is wired only when asked for (or found, without inputs)
    assert "image" not in wiring["rec"]
    found = graph({"name": "rec", "type": "recorder", "options": {"path": "x.mcap"}})
    assert found["rec"]["image"] == "ingest.image"


@pytest.mark.parametrize(
    ("node", "message"),
    [
        (
            {"name": "publisher", "type": "publisher", "inputs": ["kernel_tracker.segmnts"]},
            "nodes[3] (publisher): input 'kernel_tracker.segmnts': node 'kernel_tracker' has no output "
            "'segmnts' (outputs: segments)",
        ),
        (
            {"name": "publisher", "type": "publisher", "inputs": ["depth_head.panoptic", "nowhere.depth"]},
            "nodes[3] (publisher): input 'nowhere.depth': node 'nowhere' is unknown",
        ),
        (
            {"name": "publisher", "type": "publisher", "inputs": ["depth_head.panoptic"]},
            "nodes[3] (publisher): input 'depth' is not wired (inputs: panoptic, depth)",
        ),
        (
            {"name": "publisher", "type": "publisher", "inputs": {"depth": "ingest.image"}},
            "nodes[3] (publisher): input 'depth' takes depth/metres, ingest.image gives image/rgb8",
        ),
        (
            {"name": "publisher", "type": "publisher", "inputs": {"panoptc": "depth_head.panoptic"}},
            "nodes[3] (publisher): has no input 'panoptc' (inputs: panoptic, depth)",
        ),
        (
            {"name": "publisher", "type": "publisher", "inputs": ["kernel_tracker.segments"]},
            "nodes[3] (publisher): input 'kernel_tracker.segments' (video_knet/segments) fits none",
        ),
        (
            {"name": "evaluator", "type": "evaluator", "inputs": ["depth_head"]},
            "nodes[3] (evaluator): input 'truth' is not wired (inputs: panoptic, depth, truth)",
        ),
        (
            {"name": "publisher", "type": "publisher", "options": {"endpont": "tcp://127.0.0.1:1"}},
            "nodes[3] (publisher): unknown option 'endpont' (did you mean 'endpoint'?)",
        ),
        (
            {"name": "publisher", "type": "publisher", "options": {"codec": "gzip"}},
            "nodes[3] (publisher): option 'codec': Input should be 'raw', 'zstd', 'lz4' or 'png'",
        ),
        (
            {"name": "recorder", "type": "recorder"},
            "nodes[3] (recorder): missing option 'path'",
        ),
        (
            {"name": "evaluator", "type": "evaluator", "options": {"metrics": ["stq", "aq"]}},
            "nodes[3] (evaluator): option 'metrics': unknown metrics ['aq']",
        ),
        (
            {"name": "ingest", "type": "publisher"},
            "nodes[3] (ingest): 'ingest' names the streams' ingest",
        ),
        (
            {"name": "x", "type": "vkstream.data:Frame"},
            "nodes[3] (x): node type 'vkstream.data:Frame' is not a vkstream.nodes.node.Node",
        ),
        (
            {"name": "x", "type": "no.such.module:Node"},
            "nodes[3] (x): cannot load node type 'no.such.module:Node' (no.such.module:Node): No module",
        ),
    ],
)
def test_a_wrong_edge_or_option_is_one_line_naming_it(node: dict, message: str) -> None:
    assert refused(node).startswith(message)


def test_nodes_come_after_those_feeding_them_and_model_nodes_need_the_model() -> None:
    config = {
        "model": MODEL,
        "nodes": [{"name": "publisher", "type": "publisher", "inputs": ["depth_head"]}, *STAGES],
    }
    with pytest.raises(ValidationError, match="node 'depth_head' comes later in the list"):
        PipelineConfig.model_validate(config)
    assert refused(model=None).startswith(
        "nodes[0] (backbone): backbone computes with the model: add a 'model:' block"
    )

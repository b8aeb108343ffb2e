"""One model feeding a publisher, an evaluator, a recorder and the docs' example node, end to end.

The model is a tiny random network of 5 classes whose tracked things are not person and car: its
label space travels from the checkpoint to every sink, and nothing assumes Cityscapes.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.models.conftest import confident_model
from tests.pipeline.conftest import evaluator_node, kitti_stream, make_config, model_nodes, publisher_node
from tests.record.mcap_read import read_mcap
from vkstream.data import LabelSpace, TrainId, make_writer, open_dataset, write_png
from vkstream.models import ModelConfig, preset
from vkstream.train.checkpoint import checkpoint_payload, write_checkpoint

LABELS = LabelSpace.build(
    ["ground", "wall", "robot", "plant", "cart"], [2, 4], [(90, 90, 90), (150, 80, 40), (250, 40, 40),
                                                           (40, 160, 40), (40, 40, 250)]
)  # fmt: skip
TO_FIVE = np.full(256, 255, np.uint8)
TO_FIVE[:19] = 1
TO_FIVE[[TrainId.ROAD, TrainId.SIDEWALK, TrainId.TERRAIN]] = 0
TO_FIVE[[TrainId.VEGETATION, TrainId.SKY]] = 3
TO_FIVE[TrainId.PERSON], TO_FIVE[TrainId.CAR] = 2, 4


@pytest.fixture(scope="module")
def five_classes(
    tmp_path_factory: pytest.TempPathFactory, kitti_datasets: dict[str, Path]
) -> tuple[Path, Path]:
    """(checkpoint, dataset): a 5-class model and the synthetic replays relabelled into its classes."""
    folder = tmp_path_factory.mktemp("five")
    cfg = ModelConfig.model_validate(
        {**preset("tiny").model_dump(), "num_classes": 5, "thing_classes": [2, 4]}
    )
    write_checkpoint(checkpoint_payload(confident_model(cfg), cfg, labels=LABELS), folder / "five.pt")
    source = open_dataset(kitti_datasets["kitti-step"])
    writer = make_writer("kitti-step", folder / "data")
    for sequence in source.sequences:
        for frame in source.frames(sequence):
            semantic = TO_FIVE[frame.semantic]
            instance = np.where(np.isin(semantic, [2, 4]), frame.instance, 0).astype(np.uint16)
            writer.write(replace(frame, semantic=semantic, instance=instance))
    return folder / "five.pt", folder / "data"


def flicker_frames(folder: Path, frames: int = 6, size: tuple[int, int] = (48, 64)) -> Path:
    """PNG frames whose right half changes completely from one frame to the next; the left half never."""
    for i in range(frames):
        image = np.full((*size, 3), 100, np.uint8)
        image[:, size[1] // 2 :] = 0 if i % 2 else 200
        write_png(folder / f"frame{i}.png", image)
    return folder


def test_one_model_feeds_every_sink_in_its_own_label_space(running, five_classes, tmp_path: Path) -> None:
    checkpoint, data = five_classes
    recording = tmp_path / "run.mcap"
    nodes = [
        *model_nodes(),
        publisher_node(),
        evaluator_node(),
        {
            "name": "recorder",
            "type": "recorder",
            "options": {"path": str(recording)},
            "resources": {"num_cpus": 0},
        },
        {"name": "motion", "type": "examples.motion_node:MotionNode", "inputs": ["ingest.image"]},
    ]
    config = make_config(
        "fan",
        nodes,
        model={"checkpoint": str(checkpoint), "device": "cpu", "threads": 1},
        streams=[
            kitti_stream("replay", data, "0000", speed=0, ground_truth=True),
            {
                "id": "flicker",
                "source": {"kind": "images", "path": str(flicker_frames(tmp_path)), "speed": 0},
            },
        ],
    )
    pipeline, collector = running(config)
    # The ground truth goes from the ingest to the evaluator alone, never through the model's actor.
    assert dict(pipeline.plan.ingest) == {
        "backbone+kernel_tracker+depth_head": ("ingest.image",),
        "evaluator": ("ingest.truth",),
        "recorder": ("ingest.image",),
        "motion": ("ingest.image",),
    }
    assert pipeline.wait(timeout=120)
    collector.wait_for(
        lambda: collector.count("replay") == 4 and collector.count("flicker") == 6, 30, pipeline
    )
    stats = pipeline.stats()
    pipeline.shutdown()

    for result in [*collector.results["replay"], *collector.results["flicker"]]:
        assert result.classes == LABELS.names and result.palette == LABELS.palette and result.things == (2, 4)
        assert int(result.class_map.max()) < 5
        assert all(s.thing == (s.class_id in (2, 4)) for s in result.segments)
        assert all(s.track == 0 for s in result.segments if not s.thing)
    tracked = {s.class_id for r in collector.results["replay"] for s in r.segments if s.track}
    assert tracked and tracked <= {2, 4}

    evaluation = stats["reports"]["evaluator"]["evaluation"]
    assert evaluation["frames"] == 4 and set(evaluation["sequences"]) == {"replay#1"}  # flicker has no truth
    motion = stats["reports"]["motion"]
    assert motion["flicker"] == {"frames": 5, "moving": 0.5}  # the right half, every frame after the first
    assert motion["replay"]["frames"] == 3 and 0 < motion["replay"]["moving"] < 1
    assert {"e2e", "motion.e2e", "evaluator.e2e", "recorder.e2e"} <= set(
        stats["streams"]["replay"]["latency_ms"]
    )

    messages = read_mcap(recording)
    received = {r.stamp_ns: r for r in collector.results["replay"]}
    classes = [m for m in messages if m.topic == "/replay/classes"]
    assert len(classes) == 4 and len([m for m in messages if m.topic == "/replay/camera"]) == 4
    for m in classes:
        got = np.frombuffer(m.value.data, np.uint8).reshape(m.value.height, m.value.width)
        np.testing.assert_array_equal(got, received[m.log_time].class_map)
    names = {s["class"] for m in messages if m.topic.endswith("/segments") for s in m.value["segments"]}
    assert names and names <= set(LABELS.names)  # the recording names the model's own classes


def test_the_docs_show_the_example_node_the_test_runs() -> None:
    docs = (REPO / "docs" / "runtime.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", docs, re.S)
    assert (REPO / "examples" / "motion_node.py").read_text() in blocks

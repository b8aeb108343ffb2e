"""Failures found by running the pipeline as a user would, each on a real Ray with a real subscriber."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.pipeline.conftest import make_config, publisher_node
from vkstream.data import write_png

STAND_IN = {"name": "model", "type": "tests.pipeline.slow_node:SlowNode", "options": {"delay_s": 0.0}}
"""A model's ports at no cost: these tests are about the runtime."""


def frames_folder(folder: Path, count: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        write_png(folder / f"frame{i}.png", np.full((24, 32, 3), 10 * i, np.uint8))
    return folder


def images_stream(stream_id: str, folder: Path) -> dict:
    return {"id": stream_id, "source": {"kind": "images", "path": str(folder), "speed": 0}}


def test_a_stream_attached_again_under_its_id_is_published_from_seq_0(running, tmp_path: Path) -> None:
    folder = frames_folder(tmp_path / "side", 5)
    pipeline, collector = running(make_config("reattach", [STAND_IN, publisher_node()]))
    pipeline.attach(images_stream("side", folder))
    collector.wait_for(lambda: collector.count("side") == 5, 60, pipeline)
    pipeline.detach("side")
    pipeline.attach(images_stream("side", folder))
    # Before: the publisher kept seq 4 as the stream's last and refused every frame of the new one.
    collector.wait_for(lambda: collector.count("side") == 10, 60, pipeline)
    again = collector.results["side"][5:]
    assert [r.seq for r in again] == list(range(5)) and [r.dropped for r in again] == [0] * 5
    assert pipeline.stats()["reports"]["publisher"]["sent"] == {"side": 5}


def test_an_error_after_a_node_costs_its_frame_not_the_actor(running, tmp_path: Path) -> None:
    unsendable = {
        "name": "model",
        "type": "tests.pipeline.faulty_node:UnsendableNode",
        "options": {"seqs": [2]},
    }
    pipeline, collector = running(make_config("unsendable", [unsendable, publisher_node()]))
    pipeline.attach(images_stream("cam", frames_folder(tmp_path / "cam", 7)))
    # Before: sending frame 2 on raised in the worker thread, which died; nothing came after frame 1.
    collector.wait_for(lambda: collector.count("cam") == 6, 60, pipeline)
    assert pipeline.wait(timeout=30)
    results = collector.results["cam"]
    assert [r.seq for r in results] == [0, 1, 3, 4, 5, 6]
    assert [r.dropped for r in results] == [0, 0, 1, 1, 1, 1]  # the lost frame is counted
    model = next(a for a in pipeline.stats()["actors"] if a["actor"] == "model")
    assert model["errors"] == 1 and model["lost"] == 1

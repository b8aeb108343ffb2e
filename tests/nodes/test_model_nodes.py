"""The model nodes chained equal the online model's step; states are per stream and reset where they must."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.models.conftest import SIZE, confident_model
from vkstream.models import FrameResult, OnlineVideoKNet, StreamState, preset
from vkstream.nodes.model_nodes import BackboneNode, DepthHeadNode, KernelTrackerNode, shared_model
from vkstream.nodes.packet import Packet
from vkstream.nodes.publisher import panoptic_from_labels
from vkstream.pipeline.node import Node, build_node, node_report
from vkstream.synth import SequenceRenderer
from vkstream.train import CheckpointError
from vkstream.train.checkpoint import checkpoint_payload, write_checkpoint

FRAMES = 4


@pytest.fixture(autouse=True)
def deterministic() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny models whose thing kernels score high, so that the tracker has work to do.

    ``matching`` tracks as configured; ``new_ids`` never matches, so every detection starts a track
    and the ids show whether a stream's state went on or started afresh.
    """
    folder = tmp_path_factory.mktemp("nodes")
    cfg = preset("tiny")
    configs = {
        "matching": cfg,
        "new_ids": cfg.model_copy(update={"tracker": cfg.tracker.model_copy(update={"match_score": 1.0})}),
    }
    for name, config in configs.items():
        write_checkpoint(checkpoint_payload(confident_model(config), config), folder / f"{name}.pt")
    return {name: folder / f"{name}.pt" for name in configs}


@pytest.fixture
def checkpoint(checkpoints: dict[str, Path]) -> Path:
    return checkpoints["new_ids"]


@pytest.fixture(scope="module")
def images() -> dict[str, list[np.ndarray]]:
    """Stream name -> HxWx3 uint8 frames; stream B is another scene."""
    h, w = SIZE
    a = SequenceRenderer(seed=3, sequence_index=0, frames=FRAMES, size=(w, h))
    b = SequenceRenderer(seed=8, sequence_index=1, frames=FRAMES, size=(w, h))
    return {
        "A": [a.render(i).image for i in range(FRAMES)],
        "B": [np.ascontiguousarray(b.render(i).image[:, ::-1]) for i in range(FRAMES)],
    }


@pytest.fixture
def nodes(checkpoint: Path) -> tuple[BackboneNode, KernelTrackerNode, DepthHeadNode]:
    options = {"checkpoint": str(checkpoint), "device": "cpu"}
    return BackboneNode(**options), KernelTrackerNode(**options), DepthHeadNode(**options)


def packet(stream: str, seq: int, image: np.ndarray, restart: bool | None = None) -> Packet:
    return Packet(stream, seq, 0, data={"image": image}, restart=seq == 0 if restart is None else restart)


def run(nodes: Sequence[Node], packets: list[Packet]) -> list[Packet]:
    for node in nodes:
        packets = node.process(packets)
    return packets


def step_alone(online: OnlineVideoKNet, frames: list[np.ndarray]) -> list[FrameResult]:
    """The reference: the online model's step over one stream's frames, one at a time."""
    state: StreamState | None = None
    out = []
    for image in frames:
        x = torch.from_numpy(image).permute(2, 0, 1).contiguous().float().div(255.0)
        (result,), (state,) = online.step(x[None], [state])
        out.append(result)
    return out


def track_ids(p: Packet) -> set[int]:
    return set((np.unique(p.data["panoptic"]) & 0xFFFF).tolist()) - {0}


def assert_output(p: Packet, expected: FrameResult) -> None:
    assert set(p.data) == {"panoptic", "depth", "scores"}
    semantic, track = expected.semantic.numpy(), expected.track.numpy()
    panoptic = p.data["panoptic"]
    assert panoptic.dtype == np.uint32 and p.data["depth"].dtype == np.float32
    np.testing.assert_array_equal(panoptic, panoptic_from_labels(semantic, track))
    np.testing.assert_allclose(p.data["depth"], expected.depth.numpy(), rtol=1e-4, atol=1e-3)
    best: dict[int, float] = {}
    for s in expected.segments:
        value = (s.class_id << 16) | s.track_id
        best[value] = max(best.get(value, 0.0), s.score)
    assert set(best) == set(np.unique(panoptic).tolist())
    assert p.data["scores"] == pytest.approx(best, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("kind", ["matching", "new_ids"])
def test_chained_nodes_equal_the_step_batched_and_one_at_a_time(checkpoints, images, kind: str) -> None:
    options = {"checkpoint": str(checkpoints[kind]), "device": "cpu"}
    backbone, tracker, depth = nodes = (
        BackboneNode(**options),
        KernelTrackerNode(**options),
        DepthHeadNode(**options),
    )
    one_at_a_time = (backbone, KernelTrackerNode(**options), depth)
    expected = {name: step_alone(backbone.online, frames) for name, frames in images.items()}
    assert any(s.track_id for s in expected["A"][-1].segments), "the model tracks something"
    for seq in range(FRAMES):
        batched = run(nodes, [packet(name, seq, images[name][seq]) for name in ("A", "B")])
        assert [p.stream for p in batched] == ["A", "B"]
        for p in batched:
            assert not p.state_reset
            assert_output(p, expected[p.stream][seq])
        for name in ("B", "A"):
            (p,) = run(one_at_a_time, [packet(name, seq, images[name][seq])])
            assert_output(p, expected[name][seq])
    assert node_report(tracker) == {"streams": 2}
    if kind == "new_ids":
        assert track_ids(batched[1]) == {FRAMES}, "B's ids count its frames: its state went on"


def test_a_stream_is_the_same_with_or_without_others(nodes, images, checkpoint) -> None:
    backbone, _, depth = nodes
    alone = [run(nodes, [packet("B", t, images["B"][t])])[0] for t in range(3)]
    other = KernelTrackerNode(checkpoint=str(checkpoint), device="cpu")
    chain = (backbone, other, depth)
    together = [
        run(chain, [packet("A", 0, images["A"][0]), packet("B", 0, images["B"][0])])[1],
        run(chain, [packet("B", 1, images["B"][1]), packet("A", 1, images["A"][1])])[0],
    ]
    other.forget("A")
    together.append(run(chain, [packet("B", 2, images["B"][2])])[0])
    assert [track_ids(p) for p in alone] == [{1}, {2}, {3}]
    for a, b in zip(alone, together, strict=True):
        assert a.stream == b.stream == "B"
        np.testing.assert_array_equal(a.data["panoptic"], b.data["panoptic"])
        np.testing.assert_allclose(a.data["depth"], b.data["depth"], rtol=1e-4, atol=1e-3)


def test_nodes_regroup_packets_of_other_batches_and_orders(nodes, images) -> None:
    backbone, tracker, depth = nodes
    expected = {name: step_alone(backbone.online, frames[:2]) for name, frames in images.items()}
    encoded = backbone.process([packet("A", 0, images["A"][0])]) + backbone.process(
        [packet("B", 0, images["B"][0])]
    )
    out = depth.process(tracker.process(encoded))
    encoded = backbone.process([packet(n, 1, images[n][1]) for n in ("A", "B")])
    out += depth.process(tracker.process(encoded)[::-1])
    assert [p.stream for p in out] == ["A", "B", "B", "A"]
    for p, t in zip(out, (0, 0, 1, 1), strict=True):
        assert_output(p, expected[p.stream][t])


def test_forget_frees_a_stream_and_its_next_frame_starts_afresh(nodes, images) -> None:
    backbone, tracker, _ = nodes
    for t in range(2):
        run(nodes, [packet("A", t, images["A"][t]), packet("B", t, images["B"][t])])
    assert tracker.report() == {"streams": 2}
    freed = weakref.ref(tracker._states["A"].kernels)
    tracker.forget("A")
    tracker.forget("never seen")
    assert tracker.report() == {"streams": 1}
    gc.collect()
    assert freed() is None, "nothing else holds the forgotten stream's state"
    p, q = run(nodes, [packet("A", 2, images["A"][2]), packet("B", 2, images["B"][2])])
    assert p.state_reset and not q.state_reset
    assert track_ids(p) == {1} and track_ids(q) == {3}
    assert_output(p, step_alone(backbone.online, images["A"][2:3])[0])
    tracker.close()
    assert tracker.report() == {"streams": 0}


def test_a_restart_resets_the_tracks_and_is_marked(nodes, images) -> None:
    backbone = nodes[0]
    first = run(nodes, [packet("A", 0, images["A"][0])])[0]
    assert not first.state_reset
    run(nodes, [packet("A", 1, images["A"][1])])
    (p,) = run(nodes, [packet("A", 2, images["A"][2], restart=True)])
    assert p.state_reset and track_ids(p) == {1}  # continuing, it would be track 2
    assert_output(p, step_alone(backbone.online, images["A"][2:3])[0])


def test_a_stream_first_seen_mid_way_is_marked(nodes, images) -> None:
    p, q = run(nodes, [packet("A", 7, images["A"][0]), packet("B", 0, images["B"][0], restart=False)])
    assert p.state_reset and not q.state_reset
    (p,) = run(nodes, [packet("A", 8, images["A"][2])])
    assert not p.state_reset and track_ids(p) == {2}


def test_a_new_image_size_resets_the_stream(nodes, images, caplog: pytest.LogCaptureFixture) -> None:
    backbone = nodes[0]
    run(nodes, [packet("A", 0, images["A"][0])])
    small = np.ascontiguousarray(images["A"][1][:40, :72])
    with caplog.at_level(logging.WARNING):
        (p,) = run(nodes, [packet("A", 1, small)])
    assert p.state_reset and p.data["panoptic"].shape == (40, 72) and track_ids(p) == {1}
    assert "stream A seq 1: frames changed from 64x96 to 40x72" in caplog.text
    assert_output(p, step_alone(backbone.online, [small])[0])


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((*SIZE, 3), np.float32),
        np.zeros(SIZE, np.uint8),
        np.zeros((*SIZE, 4), np.uint8),
        np.zeros((0, 0, 3), np.uint8),
        np.zeros((32, 48, 3), np.uint8),
        None,
    ],
    ids=["float", "gray", "rgba", "empty", "other-size", "missing"],
)
def test_a_malformed_image_is_dropped_and_the_others_go_on(
    nodes, images, bad, caplog: pytest.LogCaptureFixture
) -> None:
    backbone = nodes[0]
    packets = [packet("A", 0, images["A"][0]), packet("X", 3, bad), packet("B", 0, images["B"][0])]
    if bad is None:
        del packets[1].data["image"]
    with caplog.at_level(logging.ERROR):
        out = run(nodes, packets)
    assert [p.stream for p in out] == ["A", "B"]
    assert "stream X seq 3: dropped" in caplog.text
    assert_output(out[0], step_alone(backbone.online, images["A"][:1])[0])


def test_packets_without_the_previous_nodes_output_are_dropped(nodes, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        assert nodes[1].process([Packet("A", 0, 0)]) == []
        assert nodes[2].process([Packet("A", 0, 0)]) == []
    assert "stream A seq 0: dropped, it lacks encoded" in caplog.text


def test_nodes_with_equal_options_share_one_model(checkpoint: Path, monkeypatch) -> None:
    monkeypatch.chdir(checkpoint.parent)
    a = BackboneNode(checkpoint=str(checkpoint), device="cpu")
    b = DepthHeadNode(checkpoint=checkpoint.name, device="auto" if not torch.cuda.is_available() else "cpu")
    c = KernelTrackerNode(checkpoint=str(checkpoint), device="cpu", association="mask_iou", threads=1)
    assert a.online is b.online
    assert c.online is not a.online and c.online.cfg.association == "mask_iou"
    assert a.online.cfg.association == "embedding"
    assert shared_model(checkpoint, "cpu", association="mask_iou") is c.online
    assert isinstance(build_node("kernel_tracker", {"checkpoint": str(checkpoint), "device": "cpu"}), Node)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"device": "meta"}, "unsupported device 'meta'"),
        ({"device": 0}, "device must be a string"),
        ({"threads": 0}, "threads must be a positive integer"),
        ({"threads": True}, "threads must be a positive integer"),
        ({"association": "learned"}, "unknown association 'learned'; use one of embedding, mask_iou"),
        ({"checkpoint": 5}, "checkpoint must be a file path"),
        ({"checkpoint": ""}, "checkpoint must be a file path"),
    ],
)
def test_bad_options_are_one_line_value_errors(checkpoint: Path, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        BackboneNode(**{"checkpoint": str(checkpoint), **options})
    assert "\n" not in str(caught.value)


def test_cuda_without_a_gpu_is_a_clear_error(checkpoint: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        KernelTrackerNode(checkpoint=str(checkpoint), device="cuda")


def test_a_bad_checkpoint_is_the_loaders_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        DepthHeadNode(checkpoint=str(tmp_path / "missing.pt"), device="cpu")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a vkstream checkpoint"):
        BackboneNode(checkpoint=str(garbage), device="cpu")

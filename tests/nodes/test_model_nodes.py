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
from pydantic import ValidationError

from tests.models.conftest import SIZE, confident_model
from vkstream.models import FrameResult, OnlineVideoKNet, StreamState, preset
from vkstream.models.stage_modules import DepthStage
from vkstream.nodes import registry
from vkstream.nodes.model_nodes import BackboneNode, DepthHeadNode, KernelTrackerNode
from vkstream.nodes.model_spec import ModelSpec
from vkstream.nodes.node import Node, NodeContext, NoOptions, Packet
from vkstream.synth import SequenceRenderer
from vkstream.train import CheckpointError
from vkstream.train.checkpoint import checkpoint_payload, write_checkpoint
from vkstream.wire import panoptic_map

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


def build(cls: type[Node], checkpoint: Path | str, shared: dict | None = None, **model) -> Node:
    """A model node as an actor builds it; nodes given one ``shared`` dict share the loaded model."""
    spec = ModelSpec(checkpoint=checkpoint, **{"device": "cpu", **model})
    return cls(cls.Options(), NodeContext(cls.__name__, None, spec, {} if shared is None else shared))


def chain(checkpoint: Path | str, **model) -> tuple[Node, Node, Node]:
    shared: dict = {}
    return tuple(
        build(cls, checkpoint, shared, **model) for cls in (BackboneNode, KernelTrackerNode, DepthHeadNode)
    )


@pytest.fixture
def nodes(checkpoint: Path) -> tuple[Node, Node, Node]:
    return chain(checkpoint)


def packet(stream: str, seq: int, image: np.ndarray, restart: bool | None = None) -> Packet:
    return Packet(
        stream, seq, 0, data={"ingest.image": image}, restart=seq == 0 if restart is None else restart
    )


def run(nodes: Sequence[Node], packets: list[Packet]) -> list[Packet]:
    """The nodes in a row, each input wired by name from what the packet carries, as an actor does."""
    for node in nodes:
        for p in packets:
            p.inputs = {port: p.data.get(f"{_producer(port)}.{port}") for port in node.inputs}
            p.outputs = {}
        packets = node.process(packets)
        for p in packets:
            assert set(p.outputs) == set(node.outputs)
            p.data.update({f"{_PRODUCER_OF[k]}.{k}": v for k, v in p.outputs.items()})
    return packets


_PRODUCER_OF = {
    "features": "backbone",
    "segments": "kernel_tracker",
    "panoptic": "depth_head",
    "depth": "depth_head",
}


def _producer(port: str) -> str:
    return _PRODUCER_OF.get(port, "ingest")


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
    return set(np.unique(p.outputs["panoptic"].tracks).tolist()) - {0}


def assert_nearly_equal(a: np.ndarray, b: np.ndarray) -> None:
    """Equal but for a few pixels: a batch of frames is convolved with other rounding (about 1e-6)
    than one frame alone, which can tip a pixel whose two best kernels tie (this random model's
    thing kernels all score alike)."""
    assert a.shape == b.shape
    assert np.mean(a == b) >= 0.995, np.mean(a == b)
    assert set(np.unique(a).tolist()) == set(np.unique(b).tolist())


def assert_batched_output(p: Packet, expected: FrameResult) -> None:
    """A batched frame's outputs are the model's result for the frame alone, up to rounding."""
    panoptic, depth = p.outputs["panoptic"], p.outputs["depth"]
    assert_nearly_equal(panoptic.classes, expected.semantic.numpy())
    assert_nearly_equal(panoptic.tracks, expected.track.numpy())
    same = panoptic.tracks == expected.track.numpy()
    # A tie can also tip which of two kernels of one class paints a pixel (track 0, as stuff and
    # untracked things have), and with it the pixel's depth.
    close = np.isclose(depth[same], expected.depth.numpy()[same], rtol=1e-3, atol=1e-2)
    assert np.mean(close) >= 0.995, np.mean(close)
    assert {(s.class_id, s.track) for s in panoptic.segments} == {
        (s.class_id, s.track_id) for s in expected.segments
    }


def assert_output(p: Packet, expected: FrameResult) -> None:
    """The depth head's outputs are the model's result: maps, depth and its very segment table."""
    assert set(p.outputs) == {"panoptic", "depth"}
    panoptic, depth = p.outputs["panoptic"], p.outputs["depth"]
    assert panoptic.classes.dtype == np.uint8 and depth.dtype == np.float32
    np.testing.assert_array_equal(panoptic.classes, expected.semantic.numpy())
    np.testing.assert_array_equal(panoptic.tracks, expected.track.numpy())
    np.testing.assert_allclose(depth, expected.depth.numpy(), rtol=1e-4, atol=1e-3)
    assert [(s.class_id, s.track, s.area, s.bbox) for s in panoptic.segments] == [
        (s.class_id, s.track_id, s.area, s.bbox) for s in expected.segments
    ]
    assert [s.score for s in panoptic.segments] == pytest.approx(
        [s.score for s in expected.segments], rel=1e-4
    )
    assert [s.depth_m for s in panoptic.segments] == pytest.approx(
        [s.depth_m for s in expected.segments], rel=1e-4
    )
    assert panoptic.labels.num_classes == 19  # the checkpoint's: Cityscapes' for a 19-class model
    wire = panoptic_map(panoptic.classes, panoptic.tracks)
    assert set(np.unique(wire).tolist()) == {(s.class_id << 16) | s.track_id for s in expected.segments}


@pytest.mark.parametrize("kind", ["matching", "new_ids"])
def test_chained_nodes_equal_the_step_batched_and_one_at_a_time(checkpoints, images, kind: str) -> None:
    backbone, tracker, depth = nodes = chain(checkpoints[kind])
    one_at_a_time = (backbone, build(KernelTrackerNode, checkpoints[kind]), depth)
    expected = {name: step_alone(backbone.online, frames) for name, frames in images.items()}
    assert any(s.track_id for s in expected["A"][-1].segments), "the model tracks something"
    for seq in range(FRAMES):
        batched = run(nodes, [packet(name, seq, images[name][seq]) for name in ("A", "B")])
        assert [p.stream for p in batched] == ["A", "B"]
        for p in batched:
            assert not p.state_reset
            assert_batched_output(p, expected[p.stream][seq])
        for name in ("B", "A"):
            (p,) = run(one_at_a_time, [packet(name, seq, images[name][seq])])
            assert_output(p, expected[name][seq])
    assert tracker.report() == {"streams": 2}
    if kind == "new_ids":
        assert track_ids(batched[1]) == {FRAMES}, "B's ids count its frames: its state went on"


def test_a_stream_is_the_same_with_or_without_others(nodes, images, checkpoint) -> None:
    backbone, _, depth = nodes
    alone = [run(nodes, [packet("B", t, images["B"][t])])[0] for t in range(3)]
    other = build(KernelTrackerNode, checkpoint)
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
        assert_nearly_equal(a.outputs["panoptic"].tracks, b.outputs["panoptic"].tracks)
        assert_nearly_equal(a.outputs["panoptic"].classes, b.outputs["panoptic"].classes)
        same = a.outputs["panoptic"].tracks == b.outputs["panoptic"].tracks
        np.testing.assert_allclose(a.outputs["depth"][same], b.outputs["depth"][same], rtol=1e-3, atol=1e-2)


def test_nodes_regroup_packets_of_other_batches_and_orders(nodes, images) -> None:
    backbone, tracker, depth = nodes
    expected = {name: step_alone(backbone.online, frames[:2]) for name, frames in images.items()}
    encoded = run([backbone], [packet("A", 0, images["A"][0])]) + run(
        [backbone], [packet("B", 0, images["B"][0])]
    )
    out = run([tracker, depth], encoded)
    encoded = run([backbone], [packet(n, 1, images[n][1]) for n in ("A", "B")])
    out += run([depth], run([tracker], encoded)[::-1])
    assert [p.stream for p in out] == ["A", "B", "B", "A"]
    for p, t in zip(out, (0, 0, 1, 1), strict=True):
        check = assert_output if t == 0 else assert_batched_output  # frame 1 went through in one batch
        check(p, expected[p.stream][t])


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
    assert p.state_reset and p.outputs["panoptic"].classes.shape == (40, 72) and track_ids(p) == {1}
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
        del packets[1].data["ingest.image"]
    with caplog.at_level(logging.ERROR):
        out = run(nodes, packets)
    assert [p.stream for p in out] == ["A", "B"]
    assert "stream X seq 3: dropped" in caplog.text
    assert_output(out[0], step_alone(backbone.online, images["A"][:1])[0])


def test_packets_without_the_previous_nodes_output_are_dropped(nodes, caplog) -> None:
    with caplog.at_level(logging.ERROR):
        assert run(nodes[1:], [Packet("A", 0, 0)]) == []
        assert run(nodes[2:], [Packet("A", 0, 0)]) == []
    assert "stream A seq 0: dropped, features from no model: node 'KernelTrackerNode' runs" in caplog.text


def test_the_stages_of_one_actor_share_one_model_and_each_loads_only_its_part(checkpoints) -> None:
    backbone, tracker, depth = chain(checkpoints["matching"])
    assert backbone.online is tracker.online is depth.online
    assert backbone.model.parts == {"backbone_neck", "kernel_head", "depth_head"}
    alone = build(DepthHeadNode, checkpoints["matching"])
    assert alone.model.parts == {"depth_head"}
    model = confident_model(preset("tiny"))  # the parts never loaded hold no weights
    whole, depth_stage = (
        sum(p.numel() for p in m.parameters())
        for m in (model, DepthStage(model.backbone_neck.depth_feats, model.depth_head))
    )
    assert backbone.model.weights == whole and alone.model.weights == depth_stage < whole / 2
    assert alone.model.identity == backbone.model.identity
    assert alone.model.labels.names[13] == "car"  # the checkpoint's label space


def test_a_stage_refuses_what_another_model_computed(checkpoints, images, caplog) -> None:
    """Two models never mix silently: features carry the model's identity, and it is checked."""
    backbone = chain(checkpoints["matching"])[0]
    other = build(KernelTrackerNode, checkpoints["new_ids"])
    mask_iou = build(KernelTrackerNode, checkpoints["matching"], association="mask_iou")
    encoded = run([backbone], [packet("A", 0, images["A"][0])])
    assert (
        mask_iou.model.identity != backbone.model.identity and mask_iou.online.cfg.association == "mask_iou"
    )
    with caplog.at_level(logging.ERROR):
        assert run([other], encoded) == []
        assert run([mask_iou], encoded) == []
    assert (
        f"features from {backbone.model.identity}: node 'KernelTrackerNode' runs new_ids.pt#" in caplog.text
    )
    assert build(KernelTrackerNode, checkpoints["matching"]).model.identity == backbone.model.identity
    assert registry.load("node", "kernel_tracker") is KernelTrackerNode


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"device": "tpu"}, "unknown device 'tpu'"),
        ({"device": "meta"}, "unknown device 'meta'"),
        ({"device": 0}, "Input should be a valid string"),
        ({"threads": 0}, "greater than 0"),
        ({"association": "learned"}, "'embedding' or 'mask_iou'"),
        ({"precision": "int4"}, "'fp32'"),
        ({"compile": "fast"}, "'none'"),
        ({"compile": "default"}, "compile needs warm_up"),
        ({"warm_up": ["640"]}, "frame sizes are 'WxH'"),
        ({"bogus": 1}, "Extra inputs are not permitted"),
    ],
)
def test_bad_model_blocks_are_refused(checkpoint: Path, options: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelSpec.model_validate({"checkpoint": str(checkpoint), **options})


def test_a_model_block_dumped_validates_again_as_it_was(checkpoint: Path) -> None:
    spec = ModelSpec.model_validate(
        {"checkpoint": str(checkpoint), "compile": "default", "warm_up": ["621x188", "1242X375"]}
    )
    assert spec.warm_up == [(621, 188), (1242, 375)]
    for mode in ("json", "python"):
        dumped = spec.model_dump(mode=mode)
        assert dumped["warm_up"] == ["621x188", "1242x375"]
        assert ModelSpec.model_validate(dumped) == spec


def test_cuda_without_a_gpu_is_a_clear_error(checkpoint: Path) -> None:
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        build(KernelTrackerNode, checkpoint, device="cuda")


def test_a_bad_checkpoint_is_the_loaders_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        build(DepthHeadNode, tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a vkstream checkpoint"):
        build(BackboneNode, garbage)
    with pytest.raises(ValueError, match="give the pipeline a 'model:' block"):
        BackboneNode(NoOptions(), NodeContext("backbone"))


def test_precision_and_compilation_come_from_the_block_or_the_stage(
    checkpoint: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared: dict = {}
    spec = ModelSpec(checkpoint=checkpoint, device="cpu", precision="bf16", warm_up=["96x64"])
    context = NodeContext("backbone", None, spec, shared, max_batch=1)
    with caplog.at_level(logging.INFO, logger="vkstream.models.stages"):
        backbone = BackboneNode(BackboneNode.Options(channels_last=True), context)
        tracker = KernelTrackerNode(KernelTrackerNode.Options(precision="fp32"), context)
    stages = backbone.online.stages
    assert (
        stages["backbone_neck"].options.precision == "bf16" and stages["backbone_neck"].options.channels_last
    )
    assert stages["kernel_head"].options.precision == "fp32" and tracker.online is backbone.online
    # Warmed up at start for the block's frame size, up to the actor's largest batch.
    assert "stage backbone_neck warmed up for batches [1]" in caplog.text
    assert set(backbone.report()) == {"warm_up_s"} and "warm_up_s" in tracker.report()
    with pytest.raises(ValidationError, match="compile"):
        BackboneNode.Options(compile="fastest")


def test_an_export_directory_runs_as_the_checkpoint_does(checkpoint: Path, images, tmp_path: Path) -> None:
    from vkstream.export import export_model
    from vkstream.train import load_model

    model, _, metadata = load_model(checkpoint, "cpu")
    export_model(model, metadata["label_space"], tmp_path / "exported", image_size=SIZE, batch_sizes=(1,))
    exported = chain(tmp_path / "exported")
    expected = step_alone(OnlineVideoKNet(model), images["A"][:2])
    for seq in range(2):
        (p,) = run(exported, [packet("A", seq, images["A"][seq])])
        np.testing.assert_array_equal(p.outputs["panoptic"].tracks, expected[seq].track.numpy())
        np.testing.assert_array_equal(p.outputs["panoptic"].classes, expected[seq].semantic.numpy())
    assert exported[0].model.exported and exported[0].model.identity.startswith("exported#")
    with pytest.raises(ValueError, match="runs as exported"):
        build(BackboneNode, tmp_path / "exported", precision="bf16")

from __future__ import annotations

from dataclasses import fields

import pytest
import torch

from tests.models.conftest import SIZE, confident_model, image_tensor
from vkstream.data.classes import VOID
from vkstream.data.frame import Frame
from vkstream.models import FrameResult, ModelConfig, OnlineVideoKNet, StreamState, TrackMemory
from vkstream.models.panoptic import add_depth, kernel_scores, merge_segments
from vkstream.models.tracker import Detections, track


@pytest.fixture(autouse=True)
def deterministic():
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(False)


@pytest.fixture(scope="module")
def online(tiny_cfg: ModelConfig) -> OnlineVideoKNet:
    return OnlineVideoKNet(confident_model(tiny_cfg))


def assert_same(a: FrameResult, b: FrameResult) -> None:
    assert a.frame_index == b.frame_index
    assert torch.equal(a.semantic, b.semantic)
    assert torch.equal(a.track, b.track)
    assert torch.equal(a.panoptic, b.panoptic)
    torch.testing.assert_close(a.depth, b.depth, rtol=1e-4, atol=1e-3)  # batch size changes float sums
    assert [(s.id, s.class_id, s.track_id, s.area, s.bbox) for s in a.segments] == [
        (s.id, s.class_id, s.track_id, s.area, s.bbox) for s in b.segments
    ]


def run_alone(online: OnlineVideoKNet, images: list[torch.Tensor]) -> list[FrameResult]:
    state: StreamState | None = None
    out = []
    for image in images:
        (result,), (state,) = online.step(image[None], [state])
        out.append(result)
    return out


def test_result_maps_and_segments(
    online: OnlineVideoKNet, synth_frames: list[Frame], tiny_cfg: ModelConfig
) -> None:
    (result,), (state,) = online.step(image_tensor(synth_frames[0])[None], [None])
    h, w = SIZE
    assert (
        result.semantic.shape == result.track.shape == result.depth.shape == result.panoptic.shape == (h, w)
    )
    assert result.semantic.dtype == torch.uint8 and result.track.dtype == torch.int32
    assert result.depth.dtype == torch.float32 and result.panoptic.dtype == torch.int32
    assert int(result.semantic.max()) < tiny_cfg.num_classes and not bool((result.semantic == VOID).any())
    assert float(result.depth.min()) >= tiny_cfg.depth_min_m
    assert sum(s.area for s in result.segments) == h * w
    assert int(result.panoptic.min()) >= 1
    tracked = [s for s in result.segments if s.track_id > 0]
    assert tracked, "a confident model tracks something on its first frame"
    for s in result.segments:
        mask = result.panoptic == s.id
        assert int(mask.sum()) == s.area
        assert bool((result.semantic[mask] == s.class_id).all())
        assert bool((result.track[mask] == s.track_id).all())
        ys, xs = torch.nonzero(mask, as_tuple=True)
        assert s.bbox == (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        assert float(result.depth[mask].min()) <= s.depth_m <= float(result.depth[mask].max())
        assert s.is_thing == (s.class_id in tiny_cfg.thing_classes)
        assert s.track_id == 0 or s.is_thing
    assert state.frame_index == 0 and state.kernels.shape == (tiny_cfg.num_kernels, tiny_cfg.neck_channels)
    assert int(state.memory.valid.sum()) == len(tracked)


def test_batched_streams_equal_streams_alone(online: OnlineVideoKNet, synth_frames: list[Frame]) -> None:
    a = [image_tensor(f) for f in synth_frames[:3]]
    b = [image_tensor(f).flip(-1) for f in synth_frames[1:4]]
    alone_a, alone_b = run_alone(online, a), run_alone(online, b)
    states: list[StreamState | None] = [None, None]
    for t in range(3):
        results, states = online.step(torch.stack([a[t], b[t]]), states)
        assert_same(results[0], alone_a[t])
        assert_same(results[1], alone_b[t])
    assert any(s.track_id > 0 for s in alone_a[-1].segments)


def test_a_first_frame_batches_with_a_continuing_stream(
    online: OnlineVideoKNet, synth_frames: list[Frame]
) -> None:
    images = [image_tensor(f) for f in synth_frames[:3]]
    continuing = run_alone(online, images)
    fresh = run_alone(online, images[2:])[0]
    _, (state,) = online.step(torch.stack(images[:1]), [None])
    _, (state,) = online.step(torch.stack(images[1:2]), [state])
    results, new_states = online.step(torch.stack([images[2], images[2]]), [state, None])
    assert_same(results[0], continuing[2])
    assert_same(results[1], fresh)
    assert results[1].frame_index == 0 and new_states[1].frame_index == 0 and new_states[0].frame_index == 2


def test_a_static_scene_keeps_its_track_ids(online: OnlineVideoKNet, synth_frames: list[Frame]) -> None:
    image = image_tensor(synth_frames[0])
    results = run_alone(online, [image] * 4)
    first = {s.id: s.track_id for s in results[0].segments if s.track_id}
    assert first
    for r in results[1:]:
        assert torch.equal(r.track, results[0].track)


def test_odd_sizes_are_cropped_back(online: OnlineVideoKNet) -> None:
    results, _ = online.step(torch.rand(1, 3, 37, 70), [None])
    assert results[0].semantic.shape == (37, 70)
    assert sum(s.area for s in results[0].segments) == 37 * 70


def test_bad_inputs_are_clear_errors(online: OnlineVideoKNet) -> None:
    _, (state,) = online.step(torch.rand(1, 3, *SIZE), [None])
    with pytest.raises(ValueError, match="started at 64x96"):
        online.step(torch.rand(1, 3, 32, 32), [state])
    with pytest.raises(ValueError, match="2 states for a batch of 1"):
        online.step(torch.rand(1, 3, *SIZE), [state, None])
    with pytest.raises(ValueError, match="float"):
        online.step(torch.zeros(1, 3, *SIZE, dtype=torch.uint8), [None])
    with pytest.raises(ValueError, match=r"\[B,3,H,W\]"):
        online.step(torch.rand(3, *SIZE), [None])


def test_mask_iou_association_tracks_a_static_scene(tiny_cfg: ModelConfig, synth_frames: list[Frame]) -> None:
    cfg = tiny_cfg.model_copy(update={"association": "mask_iou"})
    online = OnlineVideoKNet(confident_model(cfg))
    image = image_tensor(synth_frames[0])
    results = run_alone(online, [image] * 3)
    assert any(s.track_id for s in results[0].segments)
    for r in results[1:]:
        assert torch.equal(r.track, results[0].track)
    _, (state,) = online.step(image[None], [None])
    tracked = state.memory.valid
    assert state.memory.cells.shape[-1] == (SIZE[0] // 4) * (SIZE[1] // 4)
    # Every track of the frame holds cells of the map; free cells hold the capacity.
    held = set(state.memory.cells.tolist()) - {cfg.tracker.capacity}
    assert held == set(torch.nonzero(tracked).flatten().tolist()) != set()


def unsplit_step(
    online: OnlineVideoKNet, images: torch.Tensor, states: list[StreamState | None]
) -> tuple[list[FrameResult], list[StreamState]]:
    """The step as one piece: the three parts in a row and the merge with depth in one call."""
    size = (images.shape[2], images.shape[3])
    model, cfg = online.model, online.cfg
    full = [s if s is not None else online.initial_state(size) for s in states]
    has_previous = torch.tensor([s is not None for s in states])
    frame = torch.tensor([s.frame_index + 1 for s in full])
    memory = TrackMemory.stack([s.memory for s in full])
    with torch.inference_mode():
        kernels, masks, classes, embeddings, query_depth, dense_depth = model(
            images, torch.stack([s.kernels for s in full]), has_previous
        )
        merged = add_depth(merge_segments(cfg, masks, classes, size), query_depth, dense_depth)
        track_ids, memory = track(cfg, Detections.from_merged(merged, embeddings), memory, frame)
        results = online._results(merged, track_ids, frame.tolist())
    return results, [
        StreamState(k, m, f, size) for k, m, f in zip(kernels, memory.unbind(), frame.tolist(), strict=True)
    ]


def test_stages_equal_the_unsplit_step(online: OnlineVideoKNet, synth_frames: list[Frame]) -> None:
    images = [image_tensor(f) for f in synth_frames[:3]]
    _, (state,) = online.step(images[0][None], [None])
    _, (state,) = online.step(images[1][None], [state])
    batch = torch.stack([images[2], images[2].flip(-1), images[1]])
    states: list[StreamState | None] = [state, None, state]
    encoded = online.encode(batch)
    segmented = online.segment(encoded, states)
    staged = online.estimate_depth(encoded, segmented)
    stepped, step_states = online.step(batch, states)
    expected, expected_states = unsplit_step(online, batch, states)
    assert any(s.track_id > 0 for s in expected[0].segments)
    for results in (staged, stepped):
        for a, b in zip(results, expected, strict=True):
            assert a.frame_index == b.frame_index and a.segments == b.segments
            for name in ("semantic", "track", "depth", "panoptic"):
                assert torch.equal(getattr(a, name), getattr(b, name)), name
    for new_states in (segmented.new_states, step_states):
        for a, b in zip(new_states, expected_states, strict=True):
            assert a.frame_index == b.frame_index and a.image_size == b.image_size
            assert torch.equal(a.kernels, b.kernels)
            for f in fields(TrackMemory):
                assert torch.equal(getattr(a.memory, f.name), getattr(b.memory, f.name)), f.name
    assert [s.frame_index for s in step_states] == [2, 0, 2]


def test_pixels_take_the_kernel_full_resolution_masks_would_give(
    online: OnlineVideoKNet, synth_frames: list[Frame]
) -> None:
    """The merge never resizes every mask; its per-pixel choice matches doing so nearly everywhere."""
    images = torch.stack([image_tensor(f) for f in synth_frames[:2]])
    model, cfg = online.model, online.cfg
    with torch.inference_mode():
        encoded = online.encode(images)
        segmented = online.segment(encoded, [None, None])
        probs = torch.sigmoid(model.to_input_size(segmented.mask_logits, SIZE))
        no_previous = torch.zeros(2, dtype=torch.bool)
        _, _, class_logits, _ = online.stages["kernel_head"](encoded.fused, segmented.kernels, no_previous)
        score, _ = kernel_scores(cfg, class_logits)
    keep = (torch.arange(cfg.num_kernels) >= cfg.num_thing_kernels) | (score >= cfg.merge.thing_score)
    ranked = torch.where(keep[..., None, None], score[..., None, None] * probs, -1.0)
    full_res_winner = ranked.argmax(1)
    chosen = segmented.merged.upsampler.kernels(segmented.merged.choice)
    assert float((chosen == full_res_winner).float().mean()) > 0.98  # a random model; trained: > 0.99


def test_stages_refuse_mismatched_batches(online: OnlineVideoKNet) -> None:
    two = online.encode(torch.rand(2, 3, *SIZE))
    one = online.encode(torch.rand(1, 3, *SIZE))
    with pytest.raises(ValueError, match="does not match the encoded batch"):
        online.estimate_depth(two, online.segment(one, [None]))
    with pytest.raises(ValueError, match="1 states for a batch of 2"):
        online.segment(two, [None])

"""Annotated panels, recorded videos and strips, and latency summaries of wire-decoded results."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from viz_samples import make_output, make_scene, wire_result

from vkstream.client import StreamResult
from vkstream.data import colorize_depth, colorize_panoptic, read_png
from vkstream.viz import LatencySummary, StreamRecorder, annotate
from vkstream.viz.annotate import MIN_WIDTH

SMALL = (48, 64)
SCALE = -(-MIN_WIDTH // SMALL[1])  # the automatic upscale of SMALL frames


@pytest.fixture(scope="module")
def small() -> StreamResult:
    return wire_result(make_output(size=SMALL, seq=1))


def _upscale(rgb: np.ndarray, s: int) -> np.ndarray:
    return np.repeat(np.repeat(rgb, s, axis=0), s, axis=1)


def _find_rows(panel: np.ndarray, part: np.ndarray) -> int:
    """The row at which ``part`` appears in ``panel`` (full width), or -1."""
    for y in range(panel.shape[0] - part.shape[0] + 1):
        if np.array_equal(panel[y : y + part.shape[0]], part):
            return y
    return -1


# ---- annotate ------------------------------------------------------------------------------------


def test_annotate_is_an_rgb_panel_with_panoptic_then_depth(small: StreamResult) -> None:
    panel = annotate(small)
    height, width = SMALL
    assert panel.dtype == np.uint8 and panel.ndim == 3 and panel.shape[2] == 3
    assert panel.shape[1] == width * SCALE and panel.shape[0] > 2 * height * SCALE
    bare = annotate(replace(small, segments=()))  # no contours or labels: the maps show unchanged
    colours = _upscale(colorize_panoptic(small.class_map.astype(np.uint8), small.track_map), SCALE)
    depth = _upscale(colorize_depth(small.depth.astype(np.float32)), SCALE)
    top, below = _find_rows(bare, colours), _find_rows(bare, depth)
    assert 0 < top < top + height * SCALE <= below < panel.shape[0] - height * SCALE
    assert bare[:top].any() and bare[below + height * SCALE :].any()  # header, scale bar


def test_annotate_keeps_wide_frames_at_native_size() -> None:
    output, image = make_scene(2)
    result = wire_result(output)
    panel = annotate(result, image)
    assert panel.shape[1] == 621 and 2 * 188 < panel.shape[0] < 2 * 188 + 80
    assert annotate(result, image, scale=2).shape[1] == 2 * 621


def test_labels_and_contours_mark_tracked_things(small: StreamResult) -> None:
    panel, bare = annotate(small), annotate(replace(small, segments=()))
    assert panel.shape == bare.shape
    top = _overlay_top(small)
    changed = np.any(panel != bare, axis=2)
    things = [seg for seg in small.segments if seg.thing and seg.track]
    assert len(things) == 3
    for seg in things:
        x0, y0, x1, y1 = (v * SCALE for v in seg.bbox)
        label = changed[top + y0 - 16 : top + y0, x0 : x0 + 40]  # "car #1" sits on the box's top edge
        assert label.mean() > 0.1, f"no label above track {seg.track}"
        white = np.all(panel[top + y0 - 16 : top + y0, x0 : x0 + 40] > 230, axis=2)
        assert white.any(), f"label of track {seg.track} has no white glyphs"
        assert changed[top + y0, x0 : x1 - 1].all() and changed[top + y1 - 1, x0 : x1 - 1].all()
    assert not changed[:top].any()  # the header does not depend on segments


def _overlay_top(result: StreamResult) -> int:
    """First row of the panoptic overlay in ``annotate(result)`` (without an image), i.e. header height."""
    colours = colorize_panoptic(result.class_map.astype(np.uint8), result.track_map)
    return _find_rows(annotate(replace(result, segments=())), _upscale(colours, SCALE))


def test_header_reports_latency_drops_and_state_reset(small: StreamResult) -> None:
    header = _overlay_top(small)
    plain = annotate(replace(small, state_reset=False))[:header]
    reset = annotate(replace(small, state_reset=True))[:header]
    slow = annotate(replace(small, state_reset=False, latency_ms={**small.latency_ms, "total": 987.6}))
    dropped = annotate(replace(small, state_reset=False, dropped=7))
    assert (plain != reset).any() and (plain != slow[:header]).any() and (plain != dropped[:header]).any()
    orange = (reset[..., 0] > 200) & (reset[..., 2] < 80)
    assert orange.any() and not ((plain[..., 0] > 200) & (plain[..., 2] < 80)).any()


def test_image_lies_under_the_colours(small: StreamResult) -> None:
    image = np.full((*SMALL, 3), 200, dtype=np.uint8)
    bare = replace(small, segments=())
    assert np.array_equal(annotate(bare, image, alpha=1.0), annotate(bare))
    only_image = annotate(bare, image, alpha=0.0)
    top = _overlay_top(small)
    assert (only_image[top : top + SMALL[0] * SCALE] == 200).all()
    half = cv2.addWeighted(annotate(bare), 0.5, only_image, 0.5, 0.0)[top : top + SMALL[0] * SCALE]
    assert np.abs(annotate(bare, image)[top : top + SMALL[0] * SCALE].astype(int) - half).max() <= 1
    grey_small = cv2.resize(image[..., 0], (32, 24))  # grey and of another size: converted and resized
    assert np.array_equal(annotate(bare, grey_small, alpha=0.0), only_image)
    with pytest.raises(ValueError, match="image"):
        annotate(bare, image.astype(np.float32))
    with pytest.raises(ValueError, match="alpha"):
        annotate(bare, image, alpha=1.5)


# ---- recorder ------------------------------------------------------------------------------------


def _read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_recorder_writes_a_readable_video_and_an_evenly_spaced_strip(tmp_path: Path) -> None:
    results = [wire_result(make_output(size=SMALL, seq=seq)) for seq in range(12)]
    with StreamRecorder(tmp_path, fps=10.0, strip_every=2, strip_frames=4) as recorder:
        panels = [recorder.add(r) for r in results]
    video = next(p for p in recorder.files if p.suffix in (".mp4", ".avi"))
    assert video.stem == "front" and video.parent == tmp_path
    frames = _read_video(video)
    height, width = panels[0].shape[:2]
    assert len(frames) == 12
    assert frames[0].shape == (height + height % 2, width + width % 2, 3)
    decoded = cv2.cvtColor(frames[5][:height, :width], cv2.COLOR_BGR2RGB)
    assert np.abs(decoded.astype(int) - panels[5]).mean() < 12  # lossy, but the same picture

    strip_path = tmp_path / "front_strip.png"
    assert strip_path in recorder.files
    strip = read_png(strip_path, expect="rgb")
    th, tw = round(height * 0.5), round(width * 0.5)
    assert strip.shape == (th, 3 * tw, 3)  # 6 buckets of 2 overflow 4: seqs 0, 4, 8 remain
    for column, seq in enumerate((0, 4, 8)):
        thumb = cv2.resize(panels[seq], (tw, th), interpolation=cv2.INTER_AREA)
        assert np.array_equal(strip[:, column * tw : (column + 1) * tw], thumb)


def test_recorder_bounds_the_strip_and_keeps_streams_apart(tmp_path: Path) -> None:
    recorder = StreamRecorder(tmp_path, video=False, strip_every=1, strip_frames=5, strip_columns=2)
    for seq in range(0, 60, 3):  # every third seq arrives, the rest lost
        recorder.add(wire_result(make_output("cam/left", seq=seq, size=SMALL)))
    recorder.add(wire_result(make_output("rear", seq=7, size=SMALL)))
    assert len(recorder._streams["cam/left"].thumbs) <= 5
    files = recorder.close()
    assert sorted(p.name for p in files) == ["cam__left_strip.png", "rear_strip.png"]
    assert (
        read_png(tmp_path / "rear_strip.png", expect="rgb").shape[0]
        < read_png(tmp_path / "cam__left_strip.png", expect="rgb").shape[0]
    )
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob("*.avi"))


def test_recorder_resizes_frames_that_change_size_and_closes_once(tmp_path: Path) -> None:
    recorder = StreamRecorder(tmp_path, strip_frames=0)
    first = recorder.add(wire_result(make_output(size=SMALL, seq=0)))
    other = recorder.add(wire_result(make_output(size=(60, 100), seq=1)))
    assert other.shape == first.shape
    recorder.add(wire_result(make_output(size=SMALL, seq=2)))
    files = recorder.close()
    assert len(files) == 1 and recorder.close() is files and recorder.files == files
    frames = _read_video(files[0])
    assert len(frames) == 3 and len({f.shape for f in frames}) == 1
    with pytest.raises(RuntimeError, match="closed"):
        recorder.add(wire_result(make_output(size=SMALL, seq=3)))


def test_recorder_checks_its_settings(tmp_path: Path) -> None:
    for kwargs in ({"fps": 0}, {"strip_every": 0}, {"strip_frames": -1}, {"strip_scale": 2.0}):
        with pytest.raises(ValueError):
            StreamRecorder(tmp_path, **kwargs)


# ---- latency summary -----------------------------------------------------------------------------


def _received(seq: int, total: float, dropped: int = 0, stream: str = "front", at_s: float = 0.0):
    stamp = 1_700_000_000_000_000_000 + seq * 100_000_000
    output = make_output(stream, seq=seq, size=(8, 8), dropped=dropped, latency_ms={"backbone": total / 2})
    return wire_result(output, total_ms=total, stamp_ns=stamp, received_ns=stamp + round(at_s * 1e9))


def test_latency_summary_percentiles_rate_and_losses() -> None:
    summary = LatencySummary()
    totals = [30.0, 31.0, 45.5, 33.0, 120.0, 29.0, 40.0]
    seqs = [0, 1, 2, 5, 6, 8, 9]  # 3-4 lost; 7 dropped by the pipeline (dropped 0 -> 1)
    drops = [0, 0, 0, 0, 0, 1, 1]
    for seq, total, dropped in zip(seqs, totals, drops, strict=True):
        summary.add(_received(seq, total, dropped, at_s=0.05))
    summary.add(_received(4, 50.0, 1, stream="rear"))
    d = summary.to_dict()
    assert list(d) == ["front", "rear"]
    front = d["front"]
    assert (front["frames"], front["dropped"], front["lost"]) == (7, 1, 2)
    assert (front["first_seq"], front["last_seq"]) == (0, 9)
    p50, p90, p99 = np.percentile(totals, [50, 90, 99])
    stats = front["latency_ms"]["total"]
    assert stats["p50"] == pytest.approx(p50) and stats["p90"] == pytest.approx(p90)
    assert stats["p99"] == pytest.approx(p99) and stats["max"] == 120.0
    assert front["latency_ms"]["backbone"]["p50"] == pytest.approx(np.percentile(totals, 50) / 2)
    assert front["latency_ms"]["capture_to_receipt"]["p50"] == pytest.approx(50.0)
    assert front["rate_hz"] == pytest.approx(6 / 0.9)  # 7 frames received over seqs 0..9, 100 ms apart
    assert d["rear"]["rate_hz"] is None and d["rear"]["lost"] == 0
    json.dumps(d)

    table = summary.format_table()
    lines = table.splitlines()
    assert "p99 ms" in lines[0] and lines[2].split()[:4] == ["front", "7", "1", "2"]
    assert f"{p50:.1f}" in lines[2] and "6.7" in lines[2]
    assert "front stage p50 ms: backbone" in table and "rear" in lines[3]


def test_latency_summary_restarts_and_superseded() -> None:
    summary = LatencySummary()
    summary.add(_received(10, 30.0))
    summary.add(_received(14, 30.0), superseded=2)  # 3 missing: 2 skipped by latest_only, 1 lost
    summary.add(_received(0, 30.0))  # a restarted publisher: no gap accounting across it
    summary.add(_received(1, 30.0))
    assert summary.to_dict()["front"]["lost"] == 1
    assert summary.to_dict()["front"]["frames"] == 4
    assert LatencySummary().format_table().count("\n") == 1  # header and rule only

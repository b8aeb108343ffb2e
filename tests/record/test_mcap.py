"""MCAP recordings that Foxglove opens: every topic, read back with the mcap reader, equals the result."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from mcap_read import read_mcap

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "viz"))

from viz_samples import make_scene, wire_result

from vkstream.record import DEPTH_MM_MAX, IMAGE_TOPICS, FoxgloveOutput, depth_mm, topics
from vkstream.viz import colorize_result, overlay_result


def test_a_recording_holds_every_topic_of_every_stream_as_sent(tmp_path: Path) -> None:
    path = tmp_path / "run.mcap"
    results, images = [], []
    for seq in range(3):
        output, image = make_scene(seq, size=(94, 310))
        results.append(wire_result(output, received_ns=output.stamp_ns + 50_000_000))
        images.append(image)
    intrinsics = make_scene(0, size=(94, 310))[0].intrinsics
    with FoxgloveOutput(path) as recorder:
        for result, image in zip(results, images, strict=True):
            recorder.add(result, image, intrinsics=intrinsics, lost=result.seq)
        recorder.add(wire_result(replace(make_scene(0, size=(94, 310))[0], stream="rear/left")))
    messages = read_mcap(path)
    front = [m for m in messages if m.topic.startswith("/front/")]
    assert sorted({m.topic for m in front}) == sorted(topics("front"))
    assert {m.topic for m in messages} - {m.topic for m in front} == set(topics("rear/left")) - {
        "/rear/left/camera",
        "/rear/left/overlay",
        "/rear/left/calibration",
    }
    schemas = {m.topic.rsplit("/", 1)[1]: m.schema for m in front}
    assert {name for name, schema in schemas.items() if schema == "foxglove.RawImage"} == set(IMAGE_TOPICS)
    assert (schemas["calibration"], schemas["annotations"], schemas["things"]) == (
        "foxglove.CameraCalibration",
        "foxglove.ImageAnnotations",
        "foxglove.SceneUpdate",
    )
    assert (schemas["track_list"], schemas["telemetry"]) == ("vkstream.TrackList", "vkstream.Telemetry")
    for result, image in zip(results, images, strict=True):
        at = {m.topic.rsplit("/", 1)[1]: m.value for m in front if m.log_time == result.stamp_ns}
        assert len(at) == len(topics("front"))  # every message of a frame is logged at its capture time
        h, w = result.size
        pixels = {
            "camera": (image, "rgb8", np.uint8),
            "overlay": (overlay_result(result, image), "rgb8", np.uint8),
            "panoptic": (colorize_result(result), "rgb8", np.uint8),
            "classes": (result.class_map.astype(np.uint8), "mono8", np.uint8),
            "tracks": (result.track_map, "16UC1", "<u2"),
            # millimetres, as ROS depth images (REP 118): what viewers colour by a min/max range
            "depth": (np.minimum(np.rint(result.depth.astype(np.float64) * 1000), 65534), "16UC1", "<u2"),
        }
        for name, (expected, encoding, dtype) in pixels.items():
            msg = at[name]
            assert (msg.width, msg.height, msg.encoding, msg.frame_id) == (w, h, encoding, "front")
            got = np.frombuffer(msg.data, dtype).reshape(expected.shape)
            np.testing.assert_array_equal(got, expected)
            assert msg.timestamp.seconds * 10**9 + msg.timestamp.nanos == result.stamp_ns
        k = at["calibration"].K
        assert list(k) == pytest.approx([k[0], 0, k[2], 0, k[4], k[5], 0, 0, 1]) and k[0] > 0
        segments = at["segments"]
        assert segments["seq"] == result.seq and len(segments["segments"]) == len(result.segments)
        assert [s["class"] for s in segments["segments"]] == [result.class_name(s) for s in result.segments]
        telemetry = at["telemetry"]
        assert telemetry["latency_ms"] == pytest.approx(dict(result.latency_ms))
        assert (telemetry["seq"], telemetry["dropped"], telemetry["lost"]) == (
            result.seq,
            result.dropped,
            result.seq,
        )
        assert telemetry["age_ms"] == pytest.approx(50.0)
        assert at["depth"].step == 2 * w

        tracked = [s for s in result.segments if s.thing and s.track]
        listed = at["track_list"]["things"]
        assert sorted(t["track"] for t in listed) == sorted(s.track for s in tracked) and len(tracked) == 5
        assert [t["depth_m"] for t in listed] == sorted(t["depth_m"] for t in listed)  # nearest first
        near = min(tracked, key=lambda s: s.depth_m)
        assert listed[0]["class"] == result.class_name(near) and listed[0]["bbox"] == list(near.bbox)
        boxes, texts = at["annotations"].points, at["annotations"].texts
        assert len(boxes) == len(texts) == len(tracked)
        x0, y0, x1, y1 = tracked[0].bbox
        assert [(p.x, p.y) for p in boxes[0].points] == [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        label = f"{result.class_name(tracked[0])} #{tracked[0].track} {tracked[0].depth_m:.1f} m"
        assert texts[0].text == label

        placed = [s for s in tracked if s.xyz is not None]
        scene = at["things"]
        assert [d.type for d in scene.deletions] == [1]  # ALL: a track that ended leaves nothing behind
        assert [e.id for e in scene.entities] == [f"{s.class_id}/{s.track}" for s in placed] and placed
        x, y, z = placed[0].xyz
        position = scene.entities[0].spheres[0].pose.position
        assert (position.x, position.y, position.z) == pytest.approx((x, y, z))
        assert scene.entities[0].texts[0].text == label
        meta = {kv.key: kv.value for kv in scene.entities[0].metadata}
        assert meta["track"] == str(placed[0].track) and meta["bbox"] == ",".join(map(str, placed[0].bbox))


def test_depth_is_recorded_as_millimetres_with_0_for_none_and_far_depths_saturated(tmp_path: Path) -> None:
    output, _ = make_scene(0, size=(2, 6))
    result = wire_result(output)  # no receive time: no age, and no lost count given either
    metres = [[1.5, 12.25, 0.75, 65.5, 66.0, 200.0], [np.inf, np.nan, -1.0, 0.0, 0.0001, 3.0]]
    result = replace(result, depth=np.array(metres, np.float16))
    with FoxgloveOutput(tmp_path / "run.mcap") as recorder:
        recorder.add(result)
    at = {m.topic.rsplit("/", 1)[1]: m.value for m in read_mcap(tmp_path / "run.mcap")}
    depth = at["depth"]
    assert (depth.encoding, depth.width, depth.height, depth.step) == ("16UC1", 6, 2, 12)
    got = np.frombuffer(depth.data, "<u2").reshape(2, 6)
    # 0 means no measurement: NaN and non-positive depths; a tiny positive depth stays a measurement
    expected = [[1500, 12250, 750, 65500, 65534, 65534], [65534, 0, 0, 0, 1, 3000]]
    np.testing.assert_array_equal(got, expected)
    telemetry = at["telemetry"]
    assert "lost" not in telemetry and "age_ms" not in telemetry  # unknown: left out, never null
    assert (telemetry["seq"], telemetry["dropped"]) == (result.seq, result.dropped)


def test_depth_mm_rounds_to_the_nearest_millimetre_and_saturates_below_the_top_value() -> None:
    metres = np.array([1.2344, 1.2346, 65.534, 65.5344, 65.535, 65.6, 1e9, -np.inf, 0.0004, -0.0], np.float32)
    got = depth_mm(metres)
    assert got.dtype == np.dtype("<u2") and DEPTH_MM_MAX == 65534
    assert got.tolist() == [1234, 1235, 65534, 65534, 65534, 65534, 65534, 0, 1, 0]


def test_a_recording_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "run.mcap"
    FoxgloveOutput(path).close()
    with pytest.raises(ValueError, match="exists"):
        FoxgloveOutput(path)
    with pytest.raises(ValueError, match=r"must be named \*\.mcap"):
        FoxgloveOutput(tmp_path / "run.bag")
    FoxgloveOutput(path, overwrite=True).close()
    assert read_mcap(path) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"cannot write recording .*file/run\.mcap"):
        FoxgloveOutput(tmp_path / "file" / "run.mcap")
    (tmp_path / "folder.mcap").mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        FoxgloveOutput(tmp_path / "folder.mcap")


@pytest.mark.parametrize("compression", ["lz4", "zstd", "none"])
def test_every_chunk_compression_reads_back_the_same(tmp_path: Path, compression: str) -> None:
    output, image = make_scene(0, size=(94, 310))
    result = wire_result(output)
    path = tmp_path / f"{compression}.mcap"
    with FoxgloveOutput(path, compression=compression) as recorder:
        recorder.add(result, image)
    panoptic = next(m for m in read_mcap(path) if m.topic == "/front/panoptic").value
    assert panoptic.encoding == "rgb8" and (panoptic.height, panoptic.width) == (94, 310)
    assert panoptic.data == colorize_result(result).tobytes()
    with pytest.raises(ValueError, match="MCAP compression must be one of lz4, zstd, none, got 'gzip'"):
        FoxgloveOutput(tmp_path / "gzip.mcap", compression="gzip")  # type: ignore[arg-type]

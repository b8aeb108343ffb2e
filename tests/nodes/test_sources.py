"""Camera ingest from real inputs: video files, image folders, synthetic KITTI data, a live MJPEG server."""

from __future__ import annotations

import logging
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from tests.conftest import DATASET_FRAMES, DATASET_SIZE
from tests.nodes.mjpeg_server import MjpegServer, frame_number, render_frame
from vkstream.data import open_dataset, write_png
from vkstream.nodes.sources import (
    CapturedFrame,
    FrameSource,
    SourceError,
    open_source,
    parse_source,
    source_spec_type,
)
from vkstream.nodes.sources.opencv import CameraSource, UrlSource, VideoFileSource
from vkstream.nodes.sources.pacing import Pacer
from vkstream.nodes.sources.replay import ImageFolderSource, KittiReplaySource
from vkstream.nodes.sources.specs import CameraSpec, ImageFolderSpec, KittiReplaySpec, UrlSpec, VideoFileSpec

SourceSpec = source_spec_type()

SIZE = (64, 48)
FIRST_SEQUENCE = {"kitti-step": "0000", "semkitti-dvps": "000000"}
SECOND_SEQUENCE = {"kitti-step": "0001", "semkitti-dvps": "000001"}


def read_all(source: FrameSource, limit: int = 100) -> list[CapturedFrame]:
    frames = []
    while len(frames) < limit and (frame := source.read()) is not None:
        frames.append(frame)
    return frames


def one_line(err: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(err.value)
    assert message and "\n" not in message
    return message


def write_video(path: Path, count: int, fps: float = 20.0) -> Path:
    """An MJPG AVI whose frame n shows the number n (see render_frame)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened()
    for n in range(count):
        writer.write(cv2.cvtColor(render_frame(n, SIZE), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi", 10)


@pytest.fixture(params=["kitti-step", "semkitti-dvps"])
def layout(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def opened(request: pytest.FixtureRequest) -> Iterator[list[FrameSource]]:
    """Sources registered here are closed after the test, even when it fails."""
    sources: list[FrameSource] = []
    yield sources
    for source in sources:
        source.close()


def start(spec: SourceSpec, opened: list[FrameSource]) -> FrameSource:
    source = open_source(spec)
    opened.append(source)
    source.open()
    return source


# --- specs and parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", CameraSpec(device=0)),
        ("2", CameraSpec(device=2)),
        ("/dev/video0", CameraSpec(device="/dev/video0")),
        ("rtsp://cam1/stream", UrlSpec(url="rtsp://cam1/stream")),
        ("http://10.0.0.5:8080/video.mjpg", UrlSpec(url="http://10.0.0.5:8080/video.mjpg")),
        ("udp://@:5000", UrlSpec(url="udp://@:5000")),
        ("kitti:data/demo", KittiReplaySpec(root=Path("data/demo"))),
        ("kitti:data/demo:000001", KittiReplaySpec(root=Path("data/demo"), sequence="000001")),
    ],
)
def test_parse_source_shorthands(text: str, expected: SourceSpec) -> None:
    assert parse_source(text) == expected


def test_parse_source_files_and_folders(tmp_path: Path, kitti_datasets: dict[str, Path], video: Path) -> None:
    for root in kitti_datasets.values():
        assert parse_source(str(root)) == KittiReplaySpec(root=root)
    assert parse_source(f"kitti:{kitti_datasets['kitti-step']}") == KittiReplaySpec(
        root=kitti_datasets["kitti-step"]
    )
    assert parse_source(str(tmp_path)) == ImageFolderSpec(path=tmp_path)
    assert parse_source(str(video)) == VideoFileSpec(path=video)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("missing.mp4", "not a camera index, URL, video file or folder"),
        ("", "empty source"),
        ("-1", "not a camera index"),
        ("ftp://host/x", "unsupported URL scheme 'ftp'"),
        ("http://", "has no host"),
        ("kitti:", "expected kitti:ROOT"),
        ("kitti:root:", "expected kitti:ROOT"),
    ],
)
def test_parse_source_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_source(text)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "video", "path": "a.mp4", "speed": -1}, "greater than or equal to 0"),
        ({"kind": "video", "path": "a.mp4", "speed": float("nan")}, "finite"),
        ({"kind": "images", "path": "x", "rate_hz": 0}, "greater than 0"),
        ({"kind": "images", "path": "x", "resize": [0, 10]}, "greater than 0"),
        ({"kind": "images", "path": "x", "resize": [640, 480, 3]}, "at most 2 items"),
        ({"kind": "kitti", "root": "x", "layout": "cityscapes"}, "unknown layout 'cityscapes'"),
        ({"kind": "kitti", "root": "x", "sequence": 1}, "quote the sequence name"),
        ({"kind": "kitti", "root": "x", "split": "../val"}, "split must be a folder name"),
        ({"kind": "url", "url": "ftp://host/x"}, "unsupported URL scheme"),
        ({"kind": "url", "url": "rtsp://cam", "read_timeout_s": 0}, "greater than 0"),
        ({"kind": "camera", "device": -1}, "camera index must be >= 0"),
        ({"kind": "camera", "device": 0, "fourcc": "MJPEG"}, "fourcc must be 4 ASCII characters"),
        ({"kind": "camera", "device": 0, "fps": 0}, "greater than 0"),
        ({"kind": "camera", "device": 0, "fsp": 30}, "Extra inputs are not permitted"),
        ({"kind": "webcam", "device": 0}, "does not match any of the expected tags"),
    ],
)
def test_spec_validation(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        TypeAdapter(SourceSpec).validate_python(data)


def test_specs_round_trip_through_config_data() -> None:
    adapter = TypeAdapter(SourceSpec)
    specs = [
        VideoFileSpec(path=Path("a.avi"), speed=0, loop=True, resize=(320, 240)),
        CameraSpec(device="/dev/video2", width=640, height=480, fps=30, fourcc="MJPG"),
        UrlSpec(url="rtsp://cam/s", read_timeout_s=2, intrinsics={"fx": 5, "fy": 5, "cx": 32, "cy": 24}),
        ImageFolderSpec(path=Path("frames"), rate_hz=5),
        KittiReplaySpec(root=Path("data"), sequence="000001", ground_truth=True, preload=True),
    ]
    for spec in specs:
        assert adapter.validate_python(spec.model_dump(mode="json")) == spec
    assert adapter.validate_python({"kind": "camera", "device": "1"}) == CameraSpec(device=1)


def test_open_source_builds_without_opening(tmp_path: Path) -> None:
    missing = tmp_path / "missing.avi"
    kinds = {
        VideoFileSource: VideoFileSpec(path=missing),
        CameraSource: CameraSpec(device=0),
        UrlSource: UrlSpec(url="rtsp://user:secret@cam1/stream"),
        ImageFolderSource: ImageFolderSpec(path=tmp_path),
        KittiReplaySource: KittiReplaySpec(root=tmp_path),
    }
    for cls, spec in kinds.items():
        source = open_source(spec)
        assert type(source) is cls and source.spec is spec
        assert source.live == (cls in (CameraSource, UrlSource))
        with pytest.raises(RuntimeError, match="before open"):
            source.read()
        source.close()
    assert open_source(kinds[UrlSource]).describe() == "rtsp://user:***@cam1/stream"
    assert open_source(kinds[CameraSource]).describe() == "camera /dev/video0"


# --- pacing -----------------------------------------------------------------------------------


def test_pacer_keeps_rate_and_never_bursts_after_a_stall() -> None:
    pacer = Pacer(speed=2.0)
    times = []
    for _ in range(5):
        pacer.wait(0.1)  # 20 Hz at speed 2
        times.append(time.monotonic())
    assert 0.17 <= times[-1] - times[0] < 0.6
    time.sleep(0.3)  # a slow consumer: six periods behind
    resumed = []
    for _ in range(4):
        pacer.wait(0.1)
        resumed.append(time.monotonic())
    assert resumed[0] - times[-1] >= 0.3
    assert resumed[-1] - resumed[0] >= 0.13, "caught up with a burst instead of a new schedule"
    unpaced = Pacer(0.0)
    began = time.monotonic()
    for _ in range(100):
        unpaced.wait(1.0)
    assert time.monotonic() - began < 0.1


# --- video files ------------------------------------------------------------------------------


def test_video_file_frames_in_order_then_end(video: Path, opened: list[FrameSource]) -> None:
    source = start(VideoFileSpec(path=video, speed=0), opened)
    frames = read_all(source)
    assert [frame_number(f.image) for f in frames] == list(range(10))
    assert [f.restart for f in frames] == [True] + [False] * 9
    first = frames[0]
    assert first.image.shape == (SIZE[1], SIZE[0], 3) and first.image.dtype == np.uint8
    assert first.image.flags.c_contiguous and first.meta == {"intrinsics": None}
    stamps = [f.stamp_ns for f in frames]
    assert stamps == sorted(stamps) and abs(stamps[0] - time.time_ns()) < 5e9
    assert source.read() is None and source.read() is None
    assert "@20 fps" in source.describe()


def test_video_file_is_paced_at_its_frame_rate(video: Path, opened: list[FrameSource]) -> None:
    source = start(VideoFileSpec(path=video), opened)
    began = time.monotonic()
    assert len(read_all(source)) == 10
    assert 0.4 <= time.monotonic() - began < 2.0  # 9 periods of 50 ms
    faster = start(VideoFileSpec(path=video, speed=3), opened)
    began = time.monotonic()
    assert len(read_all(faster)) == 10
    assert 0.12 <= time.monotonic() - began < 0.4


def test_video_file_loops_with_restart(video: Path, opened: list[FrameSource]) -> None:
    source = start(VideoFileSpec(path=video, speed=0, loop=True), opened)
    frames = read_all(source, limit=25)
    assert [frame_number(f.image) for f in frames] == [*range(10), *range(10), *range(5)]
    assert [i for i, f in enumerate(frames) if f.restart] == [0, 10, 20]


def test_video_file_resize_scales_intrinsics(video: Path, opened: list[FrameSource]) -> None:
    intrinsics = {"fx": 60.0, "fy": 50.0, "cx": 32.0, "cy": 24.0}
    source = start(VideoFileSpec(path=video, speed=0, resize=(32, 24), intrinsics=intrinsics), opened)
    frame = source.read()
    assert frame is not None and frame.image.shape == (24, 32, 3) and frame.image.flags.c_contiguous
    k = frame.meta["intrinsics"]
    assert (k.fx, k.fy, k.cx, k.cy) == (30.0, 25.0, 16.0, 12.0)


def test_video_file_errors(tmp_path: Path) -> None:
    source = open_source(VideoFileSpec(path=tmp_path / "nope.avi"))
    with pytest.raises(SourceError) as err:
        source.open()
    assert one_line(err) == f"cannot open video file {tmp_path / 'nope.avi'}: no such file"
    junk = tmp_path / "junk.avi"
    junk.write_text("not a video\n" * 100)
    with pytest.raises(SourceError, match=r"junk\.avi") as err:
        open_source(VideoFileSpec(path=junk)).open()
    one_line(err)


# --- image folders ----------------------------------------------------------------------------


def test_image_folder_natural_order_skips_unreadable(
    tmp_path: Path, opened: list[FrameSource], caplog: pytest.LogCaptureFixture
) -> None:
    for n in (1, 2, 10):
        cv2.imwrite(str(tmp_path / f"frame{n}.{'jpg' if n == 2 else 'png'}"), render_frame(n, SIZE))
    (tmp_path / "frame3.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    source = start(ImageFolderSpec(path=tmp_path, speed=0, loop=True, resize=(32, 24)), opened)
    with caplog.at_level(logging.WARNING):
        frames = read_all(source, limit=5)
    assert [frame_number(f.image) for f in frames] == [1, 2, 10, 1, 2]
    assert [f.restart for f in frames] == [True, False, False, True, False]
    assert frames[0].image.shape == (24, 32, 3)
    assert "frame3.png" in caplog.text


def test_image_folder_paced_at_rate(tmp_path: Path, opened: list[FrameSource]) -> None:
    for n in range(5):
        cv2.imwrite(str(tmp_path / f"{n:03d}.png"), render_frame(n, SIZE))
    source = start(ImageFolderSpec(path=tmp_path, rate_hz=20), opened)
    began = time.monotonic()
    assert [frame_number(f.image) for f in read_all(source)] == list(range(5))
    assert 0.17 <= time.monotonic() - began < 1.5


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as err:
        open_source(ImageFolderSpec(path=tmp_path)).open()
    assert one_line(err) == f"cannot open image folder {tmp_path}: no .png/.jpg/.jpeg images"
    with pytest.raises(SourceError, match="no such folder") as err:
        open_source(ImageFolderSpec(path=tmp_path / "missing")).open()
    (tmp_path / "bad.png").write_bytes(b"broken")
    source = open_source(ImageFolderSpec(path=tmp_path, loop=True))
    source.open()
    with pytest.raises(SourceError, match="none of the 1 images could be read"):
        source.read()


# --- KITTI replay -----------------------------------------------------------------------------


def test_kitti_replay_matches_the_dataset(layout: str, kitti_datasets: dict[str, Path], opened: list) -> None:
    root = kitti_datasets[layout]
    dataset = open_dataset(root)
    source = start(KittiReplaySpec(root=root, speed=0, ground_truth=True), opened)
    sequence = FIRST_SEQUENCE[layout]
    assert source.describe() == f"kitti {layout} {root} seq {sequence} unpaced"
    frames = read_all(source)
    assert len(frames) == DATASET_FRAMES and [f.restart for f in frames] == [True, False, False, False]
    for position, captured in enumerate(frames):
        expected = dataset.read_frame(sequence, position)
        np.testing.assert_array_equal(captured.image, expected.image)
        assert captured.image.flags.c_contiguous
        assert captured.meta["sequence"] == sequence and captured.meta["index"] == expected.index
        assert captured.meta["intrinsics"] == expected.intrinsics is not None
        truth = captured.truth
        assert truth.image is None and (truth.sequence, truth.index) == (sequence, expected.index)
        for name in ("semantic", "instance", "depth"):
            np.testing.assert_array_equal(getattr(truth, name), getattr(expected, name), err_msg=name)
        assert truth.intrinsics == expected.intrinsics
    assert source.read() is None


def test_kitti_replay_sequence_resize_and_loop(
    layout: str, kitti_datasets: dict[str, Path], opened: list
) -> None:
    root = kitti_datasets[layout]
    sequence = SECOND_SEQUENCE[layout]
    expected = open_dataset(root).read_frame(sequence, 0)
    half = (DATASET_SIZE[0] // 2, DATASET_SIZE[1] // 2)
    spec = KittiReplaySpec(root=root, sequence=sequence, speed=0, loop=True, ground_truth=True, resize=half)
    source = start(spec, opened)
    frames = read_all(source, limit=DATASET_FRAMES + 1)
    assert [f.restart for f in frames] == [True, False, False, False, True]
    first = frames[0]
    assert first.meta["sequence"] == sequence
    assert first.image.shape == (half[1], half[0], 3)
    assert first.meta["intrinsics"] == expected.intrinsics.scaled(0.5, 0.5)
    truth = first.truth
    assert truth.intrinsics == first.meta["intrinsics"]
    for name in ("semantic", "instance", "depth"):
        full = getattr(expected, name)
        np.testing.assert_array_equal(
            getattr(truth, name), cv2.resize(full, half, interpolation=cv2.INTER_NEAREST), err_msg=name
        )
    np.testing.assert_array_equal(frames[4].image, first.image)


def test_kitti_replay_without_ground_truth(kitti_datasets: dict[str, Path], opened: list) -> None:
    source = start(KittiReplaySpec(root=kitti_datasets["kitti-step"], speed=0), opened)
    frame = source.read()
    assert (
        frame is not None and set(frame.meta) == {"intrinsics", "sequence", "index"} and frame.truth is None
    )


def test_kitti_preload_replays_from_memory(
    tmp_path: Path, kitti_datasets: dict[str, Path], opened: list
) -> None:
    root = shutil.copytree(kitti_datasets["semkitti-dvps"], tmp_path / "copy")
    lazy = read_all(start(KittiReplaySpec(root=root, speed=0, ground_truth=True), opened))
    source = start(KittiReplaySpec(root=root, speed=0, ground_truth=True, preload=True, loop=True), opened)
    shutil.rmtree(root)  # every frame is in memory already
    frames = read_all(source, limit=2 * DATASET_FRAMES)
    assert [f.restart for f in frames] == [True, False, False, False] * 2
    for captured, reference in zip(frames, lazy + lazy, strict=True):
        np.testing.assert_array_equal(captured.image, reference.image)
        truth, expected = captured.truth, reference.truth
        np.testing.assert_array_equal(truth.depth, expected.depth)
    assert not frames[0].image.flags.writeable  # shared by every loop


def test_kitti_replay_native_rate(kitti_datasets: dict[str, Path], opened: list) -> None:
    source = start(KittiReplaySpec(root=kitti_datasets["semkitti-dvps"]), opened)
    assert source.describe().endswith("@10 Hz")
    began = time.monotonic()
    assert len(read_all(source)) == DATASET_FRAMES
    assert 0.27 <= time.monotonic() - began < 1.5  # 3 periods of 100 ms


def test_kitti_raw_follows_recorded_timestamps(
    tmp_path: Path, kitti_datasets: dict[str, Path], opened: list, caplog: pytest.LogCaptureFixture
) -> None:
    """A raw drive whose frames are 50, 300 and 50 ms apart is replayed with those gaps."""
    drive = tmp_path / "2011_09_26_drive_0001_sync"
    images = open_dataset(kitti_datasets["kitti-step"]).frames("0000")
    for n, frame in enumerate(images):
        write_png(drive / "image_02" / "data" / f"{n:010d}.png", frame.image)
    lines = [f"2011-09-26 13:02:25.{ms:03d}000000" for ms in (100, 150, 450, 500)]
    (drive / "image_02" / "timestamps.txt").write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        source = start(KittiReplaySpec(root=drive, ground_truth=True), opened)
    assert "no labels or depth" in caplog.text
    frames = read_all(source)
    gaps = np.diff([f.stamp_ns for f in frames]) / 1e9
    assert len(frames) == 4 and frames[0].truth is None
    assert gaps[1] >= 0.28 and gaps[0] < 0.2 and gaps[2] < 0.2, gaps


def test_kitti_replay_errors(tmp_path: Path, kitti_datasets: dict[str, Path]) -> None:
    root = kitti_datasets["semkitti-dvps"]
    with pytest.raises(SourceError) as err:
        open_source(KittiReplaySpec(root=root, sequence="000009")).open()
    assert "no sequence '000009' in split train (found: 000000, 000001)" in one_line(err)
    with pytest.raises(SourceError, match="cannot open kitti auto") as err:
        open_source(KittiReplaySpec(root=tmp_path)).open()
    assert "no known dataset layout" in one_line(err)
    with pytest.raises(SourceError, match="not a SemKITTI-DVPS train split"):
        open_source(KittiReplaySpec(root=kitti_datasets["kitti-step"], layout="semkitti-dvps")).open()
    with pytest.raises(SourceError, match="label_space semkitti applies to semkitti-dvps, not kitti-step"):
        open_source(KittiReplaySpec(root=kitti_datasets["kitti-step"], label_space="semkitti")).open()


# --- live sources -----------------------------------------------------------------------------


def test_mjpeg_stream_in_order(mjpeg_server: MjpegServer, opened: list) -> None:
    source = start(UrlSpec(url=mjpeg_server.url, open_timeout_s=2, read_timeout_s=2), opened)
    assert source.live and source.describe() == mjpeg_server.url
    frames = [source.read() for _ in range(8)]
    numbers = [frame_number(f.image) for f in frames if f is not None]
    assert len(numbers) == 8 and numbers == sorted(set(numbers)), numbers
    assert [f.restart for f in frames if f is not None] == [True] + [False] * 7
    assert frames[0] is not None and frames[0].image.shape == (SIZE[1], SIZE[0], 3)
    stamps = [f.stamp_ns for f in frames if f is not None]
    assert stamps == sorted(stamps)


def test_mjpeg_server_stop_and_restart(mjpeg_server: MjpegServer, opened: list) -> None:
    spec = UrlSpec(url=mjpeg_server.url, open_timeout_s=1, read_timeout_s=1, resize=(32, 24))
    source = start(spec, opened)
    before = frame_number(source.read().image)
    mjpeg_server.stop()
    began = time.monotonic()
    with pytest.raises(SourceError) as err:
        for _ in range(100):  # frames FFmpeg had buffered come first
            source.read()
    assert time.monotonic() - began < 2.0
    assert one_line(err) == f"{mjpeg_server.url}: stream ended or disconnected"
    with pytest.raises(SourceError, match="connection refused"):
        source.open()
    mjpeg_server.start()
    source.open()
    frame = source.read()
    assert frame is not None and frame.restart and frame.image.shape == (24, 32, 3)
    assert frame_number(cv2.resize(frame.image, SIZE)) > before


def test_stalled_stream_times_out(mjpeg_server: MjpegServer, opened: list) -> None:
    source = start(UrlSpec(url=mjpeg_server.url, open_timeout_s=1, read_timeout_s=1), opened)
    assert source.read() is not None
    mjpeg_server.pause()
    began = time.monotonic()
    with pytest.raises(SourceError) as err:
        for _ in range(100):
            source.read()
    assert time.monotonic() - began < 2.5
    assert one_line(err) == f"{mjpeg_server.url}: no frame for 1 s"


def test_unreachable_urls_fail_fast() -> None:
    refused = f"http://127.0.0.1:{free_port()}/stream.mjpg"
    began = time.monotonic()
    with pytest.raises(SourceError) as err:
        open_source(UrlSpec(url=refused, open_timeout_s=2)).open()
    assert time.monotonic() - began < 1.0
    assert one_line(err) == f"cannot open {refused}: connection refused, or not a video stream"
    with socket.socket() as silent:  # accepts connections but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/stream.mjpg"
        began = time.monotonic()
        with pytest.raises(SourceError) as err:
            open_source(UrlSpec(url=url, open_timeout_s=1)).open()
        assert 0.9 <= time.monotonic() - began < 3.0
    assert one_line(err) == f"cannot open {url}: no answer within 1 s"


def test_missing_cameras() -> None:
    with pytest.raises(SourceError) as err:
        open_source(CameraSpec(device=99)).open()
    assert one_line(err).startswith("cannot open camera /dev/video99: ")
    with pytest.raises(SourceError) as err:
        open_source(CameraSpec(device="/dev/video-missing")).open()
    assert one_line(err) == "cannot open camera /dev/video-missing: no such device"


def test_context_manager_and_reopen(video: Path) -> None:
    with open_source(VideoFileSpec(path=video, speed=0)) as source:
        assert source.read() is not None and source.read() is not None
        source.open()  # reopening starts over
        frame = source.read()
        assert frame is not None and frame.restart and frame_number(frame.image) == 0
    with pytest.raises(RuntimeError):
        source.read()
    source.close()


def test_kitti_replay_skips_unreadable_frames(
    tmp_path: Path, kitti_datasets: dict[str, Path], opened: list, caplog: pytest.LogCaptureFixture
) -> None:
    root = shutil.copytree(kitti_datasets["semkitti-dvps"], tmp_path / "copy")
    images = sorted((root / "video_sequence" / "train").glob("000001_*_leftImg8bit.png"))
    images[1].write_bytes(b"truncated")
    with caplog.at_level(logging.WARNING):
        frames = read_all(start(KittiReplaySpec(root=root, sequence="000001", speed=0), opened))
    assert [f.meta["index"] for f in frames] == [0, 2, 3]
    assert images[1].name in caplog.text
    for path in images:
        path.write_bytes(b"truncated")
    source = start(KittiReplaySpec(root=root, sequence="000001", speed=0), opened)
    with pytest.raises(SourceError, match="no readable frames"):
        source.read()

"""The C++ planner client in examples/cpp, built once per session by its build.sh: it decodes every golden
sample to its JSON, refuses what the Python client refuses, and listens to a live publisher on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import lz4.frame
import msgpack
import pytest
import zmq
import zstandard

from tests.wire.golden_samples import (
    NAMES,
    SAMPLES_DIR,
    differences,
    golden,
    make_samples,
    python_description,
)
from vkstream.client import SchemaVersionError, Subscriber, WireFormatError, decode_message
from vkstream.data import CITYSCAPES, TrainId
from vkstream.nodes.publisher import Publisher, PublisherConfig
from vkstream.wire import FrameOutput, Panoptic

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "examples" / "cpp" / "build.sh"


@pytest.fixture(scope="session")
def cpp_bin() -> Path:
    """examples/cpp/build, after build.sh installed what was missing and built the programs."""
    proc = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=280)
    if proc.returncode != 0:
        pytest.fail(
            f"examples/cpp/build.sh exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return ROOT / "examples" / "cpp" / "build"


def _decode(cpp_bin: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cpp_bin / "vkstream_decode", *map(str, args)], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("name", NAMES)
def test_vkstream_decode_reads_each_golden_sample_as_its_json(cpp_bin: Path, name: str) -> None:
    _, doc = golden(name)
    proc = _decode(cpp_bin, SAMPLES_DIR / f"{name}.msgpack", doc["topic"])
    assert proc.returncode == 0, proc.stderr
    assert differences(json.loads(proc.stdout), doc["decoded"]) == []


def test_vkstream_decode_sees_a_changed_pixel_as_the_python_client_does(
    cpp_bin: Path, tmp_path: Path
) -> None:
    payload, doc = golden("raw")
    message = msgpack.unpackb(payload)
    message["depth"]["data"] = message["depth"]["data"][:-2] + b"\x00\x3c"  # the last pixel: 1.0 m
    changed = tmp_path / "changed.msgpack"
    changed.write_bytes(msgpack.packb(message, use_bin_type=True))
    proc = _decode(cpp_bin, changed)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["depth"]["samples"][-1] == {"y": 23, "x": 31, "value": 1.0}
    assert [d.split(":")[0] for d in differences(got, doc["decoded"])] == [
        "$.depth.sha256",
        "$.depth.samples[24].value",
    ]
    assert differences(got, python_description(doc["topic"], changed.read_bytes())) == []


def _edited(sample: str, edit: Callable[[dict], object]) -> bytes:
    message = msgpack.unpackb(golden(sample)[0])
    edit(message)
    return msgpack.packb(message, use_bin_type=True)


def _bad_utf8_class_name() -> bytes:
    payload = golden("zstd")[0]
    assert payload.count(b"\xa4road") == 1
    return payload.replace(b"\xa4road", b"\xa4\xff\xfead")


def _corrupt_png() -> bytes:
    def edit(message: dict) -> None:
        data = bytearray(message["panoptic"]["data"])
        data[data.find(b"IDAT") + 10] ^= 0xFF
        message["panoptic"]["data"] = bytes(data)

    return _edited("png", edit)


def _png_of(width: int) -> bytes:
    import cv2
    import numpy as np

    ok, encoded = cv2.imencode(".png", np.zeros((24, width, 4), np.uint8))
    assert ok
    return _edited("png", lambda m: m["panoptic"].update(data=encoded.tobytes()))


BAD_MESSAGES = {  # what the C++ decoder must say; the Python client must refuse each as well
    "shape-too-large": (
        lambda: _edited("raw", lambda m: m["panoptic"].update(shape=[1 << 20, 1 << 20])),
        "panoptic: declared size of shape [1048576, 1048576] of <u4 exceeds 1073741824 bytes",
    ),
    "shape-not-the-size": (
        lambda: _edited(
            "raw", lambda m: m["panoptic"].update(shape=[24, 31], data=m["panoptic"]["data"][:2976])
        ),
        "panoptic must be <u4 of size [24, 32], got <u4 [24, 31]",
    ),
    "raw-data-short": (
        lambda: _edited("raw", lambda m: m["panoptic"].update(data=m["panoptic"]["data"][:-4])),
        "panoptic: 3068 bytes of data for shape [24, 32] of <u4 (3072 bytes)",
    ),
    "zstd-frame-of-another-size": (
        lambda: _edited("zstd", lambda m: m["depth"].update(data=zstandard.compress(bytes(1600)))),
        "depth: zstd frame holds 1600 bytes, the shape needs 1536",
    ),
    "zstd-truncated": (
        lambda: _edited("zstd", lambda m: m["depth"].update(data=m["depth"]["data"][:-10])),
        "depth: zstd data does not decompress",
    ),
    "zstd-without-content-size": (
        lambda: _edited(
            "zstd",
            lambda m: m["depth"].update(
                data=zstandard.ZstdCompressor(write_content_size=False).compress(bytes(1536))
            ),
        ),
        "depth: zstd frame does not store its content size",
    ),
    "lz4-frame-of-another-size": (
        lambda: _edited(
            "lz4", lambda m: m["depth"].update(data=lz4.frame.compress(bytes(1600), store_size=True))
        ),
        "depth: lz4 frame holds 1600 bytes, the shape needs 1536",
    ),
    "lz4-truncated": (
        lambda: _edited("lz4", lambda m: m["depth"].update(data=m["depth"]["data"][:-10])),
        "depth: lz4 frame is truncated or larger than the shape's 1536 bytes",
    ),
    "lz4-larger-than-the-shape": (
        lambda: _edited(
            "lz4", lambda m: m["depth"].update(data=lz4.frame.compress(bytes(1600), store_size=False))
        ),
        "depth: lz4 frame is truncated or larger than the shape's 1536 bytes",
    ),
    "png-of-another-size": (lambda: _png_of(31), "panoptic: PNG decodes to 31x24 8-bit RGBA, expected 32x24"),
    "png-corrupt": (_corrupt_png, "panoptic: PNG does not decode"),
    "png-not-a-png": (
        lambda: _edited("png", lambda m: m["depth"].update(data=b"GIF89a")),
        "depth: data is not a complete PNG",
    ),
    "dtype-not-canonical": (
        lambda: _edited("raw", lambda m: m["panoptic"].update(dtype="<u1")),
        "panoptic: dtype '<u1' is not in canonical form ('|u1')",
    ),
    "unknown-codec": (
        lambda: _edited("raw", lambda m: m["depth"].update(codec="brotli")),
        "depth: unknown codec 'brotli'",
    ),
    "other-schema": (
        lambda: _edited("zstd", lambda m: m.update(schema="vkstream.result/2")),
        "message schema 'vkstream.result/2' is not supported",
    ),
    "garbage": (lambda: b"\xc1garbage", "payload is not a msgpack map"),
    "array-claiming-4g-items": (lambda: b"\xdd\xff\xff\xff\xff", "payload is not a msgpack map"),
    "not-a-map": (lambda: msgpack.packb([1, 2]), "payload is a msgpack array, expected a map"),
    "missing-seq": (lambda: _edited("zstd", lambda m: m.pop("seq")), "payload lacks 'seq'"),
    "negative-dropped": (
        lambda: _edited("zstd", lambda m: m.update(dropped=-1)),
        "payload.dropped must be non-negative, got -1",
    ),
    "class-not-in-classes": (
        lambda: _edited("zstd", lambda m: m["segments"][0].update({"class": 19})),
        "segments[0].class 19 is not an index into classes",
    ),
    "segment-without-xyz": (
        lambda: _edited("zstd", lambda m: m["segments"][0].pop("xyz")),
        "segments[0] lacks 'xyz'",
    ),
    "latency-without-total": (
        lambda: _edited("zstd", lambda m: m["latency_ms"].pop("total")),
        "latency_ms must map stage names to numbers and include 'total'",
    ),
    "class-name-not-utf8": (_bad_utf8_class_name, "payload holds a str that is not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
def test_both_decoders_refuse_a_bad_message_and_the_cpp_one_says_why(
    cpp_bin: Path, tmp_path: Path, case: str
) -> None:
    make, expected = BAD_MESSAGES[case]
    payload = make()
    with pytest.raises(SchemaVersionError if case == "other-schema" else WireFormatError):
        decode_message([b"vkstream/front", payload])
    path = tmp_path / f"{case}.msgpack"
    path.write_bytes(payload)
    proc = _decode(cpp_bin, path, "vkstream/front")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith(f"vkstream_decode: error: {path}: ") and proc.stderr.count("\n") == 1
    assert expected in proc.stderr


def test_vkstream_decode_checks_the_topic_and_its_arguments(cpp_bin: Path, tmp_path: Path) -> None:
    sample = SAMPLES_DIR / "zstd.msgpack"
    proc = _decode(cpp_bin, sample, "vkstream/rear")
    assert (
        proc.returncode == 1
        and "topic 'vkstream/rear' does not end with the payload's stream '/front'" in (proc.stderr)
    )
    for args in ((), (sample, "vkstream/front", "extra"), (tmp_path / "missing.msgpack",)):
        proc = _decode(cpp_bin, *args)
        assert (proc.returncode, proc.stdout) == (2, "")
        assert proc.stderr.startswith("vkstream_decode: error: ") and proc.stderr.count("\n") == 1


def _frame(stream: str, seq: int) -> FrameOutput:
    classes, tracks, depth = make_samples().street(seq % 3, (4, 5, 6))
    if seq % 2:
        tracks[tracks == 6] = 0  # the person untracked on odd frames: fewer segments
        classes[classes == TrainId.PERSON] = TrainId.ROAD
    stamp = 1_717_243_200_000_000_000 + seq * 100_000_000
    return FrameOutput(
        stream, seq, stamp, Panoptic(classes, tracks, CITYSCAPES), depth, make_samples().INTRINSICS
    )


def _listen(cpp_bin: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [cpp_bin / "vkstream_listen", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_vkstream_listen_prints_a_line_per_live_message_and_exits_after_count(cpp_bin: Path) -> None:
    with (
        Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as publisher,
        Subscriber(publisher.endpoint) as python_sub,
    ):
        listener = _listen(cpp_bin, publisher.endpoint, "12", "--timeout", "20")
        try:
            assert publisher.wait_for_subscriptions(2, timeout=20)
            for seq in range(6):
                for stream in ("front", "rear/left"):
                    publisher.publish(_frame(stream, seq))
                    assert publisher.flush(timeout=10)  # one at a time: the publisher's queue drops nothing
            out, err = listener.communicate(timeout=30)
        finally:
            listener.kill()
        received = [python_sub.receive(timeout=5) for _ in range(12)]
    assert listener.returncode == 0, err
    expected = [
        f"stream={r.stream} seq={r.seq} size={r.size[1]}x{r.size[0]} segments={len(r.segments)}"
        for r in received
        if r is not None
    ]
    assert len(expected) == 12 and {len(r.segments) for r in received if r is not None} == {7, 8}
    assert out.splitlines() == expected
    assert err == ""


def test_vkstream_listen_reports_a_bad_message_and_goes_on(cpp_bin: Path) -> None:
    payload, doc = golden("zstd")
    context = zmq.Context()
    pub = context.socket(zmq.XPUB)
    try:
        port = pub.bind_to_random_port("tcp://127.0.0.1")
        listener = _listen(cpp_bin, f"tcp://127.0.0.1:{port}", "1", "--timeout", "20")
        try:
            assert pub.poll(20_000) and pub.recv() == b"\x01vkstream/"
            topic = doc["topic"].encode()
            pub.send_multipart([topic, b"\xc1"])
            pub.send_multipart([topic, payload, b"third"])
            pub.send_multipart([topic, payload])
            out, err = listener.communicate(timeout=30)
        finally:
            listener.kill()
    finally:
        pub.close(linger=0)
        context.term()
    assert (listener.returncode, out) == (0, "stream=front seq=3 size=32x24 segments=8\n")
    lines = err.splitlines()
    assert len(lines) == 2 and all(
        line.startswith("vkstream_listen: skipped a message on 'vkstream/front': ") for line in lines
    )
    assert "payload is not a msgpack map" in lines[0] and "expected a two-part message" in lines[1]


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("tcp://127.0.0.1:5560",),
        ("tcp://127.0.0.1:5560", "ten"),
        ("tcp://127.0.0.1:5560", "0"),
        ("127.0.0.1:5560", "10"),
        ("tcp://127.0.0.1:5560", "10", "--timeout", "soon"),
        ("tcp://127.0.0.1:5560", "10", "--wait", "5"),
    ],
)
def test_vkstream_listen_refuses_bad_arguments_in_one_line(cpp_bin: Path, args: tuple[str, ...]) -> None:
    proc = subprocess.run([cpp_bin / "vkstream_listen", *args], capture_output=True, text=True, timeout=10)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("vkstream_listen: error: ") and proc.stderr.count("\n") == 1


def test_vkstream_listen_gives_up_after_its_timeout(cpp_bin: Path) -> None:
    context = zmq.Context()
    silent = context.socket(zmq.PUB)
    try:
        endpoint = f"tcp://127.0.0.1:{silent.bind_to_random_port('tcp://127.0.0.1')}"
        proc = subprocess.run(
            [cpp_bin / "vkstream_listen", endpoint, "3", "--timeout", "1"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    finally:
        silent.close(linger=0)
        context.term()
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"vkstream_listen: error: no message within 1 s from {endpoint} (0 of 3 received)\n"

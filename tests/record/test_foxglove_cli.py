"""``vkstream listen --mcap`` and ``--foxglove`` against a real publisher: the file read back with the
mcap reader, and live images received over Foxglove's WebSocket protocol."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
from pathlib import Path

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from websockets.sync.client import connect

from tests.record.mcap_read import read_mcap
from tests.wire.wire_samples import make_output
from vkstream.nodes.publisher import Publisher, PublisherConfig
from vkstream.record import IMAGE_TOPICS, topics


def _publish(
    publisher: Publisher, streams: tuple[str, ...], count: int, period: float = 0.0, stop=None
) -> tuple[list, threading.Thread]:
    """Publish ``count`` frames per stream once someone subscribes (in a thread, until ``stop`` is set);
    returns what was sent (so far) and the thread."""
    sent: list = []
    stop = stop or threading.Event()

    def work() -> None:
        assert publisher.wait_for_subscriptions(1, timeout=20)
        for seq in range(count):
            if stop.is_set():
                return
            for stream in streams:
                sent.append(make_output(stream, seq))
                publisher.publish(sent[-1])
            publisher.flush(timeout=5)
            time.sleep(period)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return sent, thread


def test_listen_records_every_message_as_foxglove_schemas_at_capture_time(tmp_path: Path, cli) -> None:
    path = tmp_path / "run.mcap"
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", queue_size=16)) as publisher:
        sent, publishing = _publish(publisher, ("front", "rear"), 4)
        result = cli(
            "listen", publisher.endpoint, "--count", "4", "--duration", "20", "--mcap", path,
            "--intrinsics", "front=70,70,31.5,23.5",
        )  # fmt: skip
        publishing.join(timeout=10)
    assert result.code == 0, result.err
    assert f"recorded 8 messages into {path}" in result.out
    messages = read_mcap(path)
    no_camera = {"camera", "overlay"}
    expected = set(topics("front")) | set(topics("rear")) - {"/rear/calibration"}
    assert {m.topic for m in messages} == {t for t in expected if t.rsplit("/", 1)[1] not in no_camera}
    schemas = {m.topic: m.schema for m in messages}
    for name in set(IMAGE_TOPICS) - no_camera:
        assert schemas[f"/front/{name}"] == "foxglove.RawImage"
    assert schemas["/front/calibration"] == "foxglove.CameraCalibration"
    assert schemas["/rear/annotations"] == "foxglove.ImageAnnotations"
    assert schemas["/rear/things"] == "foxglove.SceneUpdate"
    assert schemas["/rear/telemetry"] == "vkstream.Telemetry"
    for topic in schemas:
        stream = topic.split("/")[1]
        stamps = [m.log_time for m in messages if m.topic == topic]
        assert stamps == [o.stamp_ns for o in sent if o.stream == stream], topic  # capture stamps
    panoptic = [m.value for m in messages if m.topic == "/front/panoptic"]
    assert (panoptic[0].width, panoptic[0].height, panoptic[0].encoding) == (64, 48, "rgb8")
    calibration = next(m.value for m in messages if m.topic == "/front/calibration")
    assert list(calibration.K) == [70, 0, 31.5, 0, 70, 23.5, 0, 0, 1]
    telemetry = [m.value for m in messages if m.topic == "/front/telemetry"]
    assert [t["seq"] for t in telemetry] == [0, 1, 2, 3] and telemetry[0]["lost"] == 0
    assert telemetry[0]["latency_ms"]["backbone"] == 12.25
    assert all(t["age_ms"] >= 0 for t in telemetry)  # a subscriber knows their age
    depth = next(m.value for m in messages if m.topic == "/front/depth")
    mm = np.frombuffer(depth.data, "<u2").reshape(depth.height, depth.width)
    metres = next(o.depth for o in sent if o.stream == "front" and o.seq == 0).astype(np.float16)
    assert (depth.encoding, depth.step) == ("16UC1", 2 * depth.width)
    # millimetres (the samples' depths are all under 65.534 m); the sky's 0 stays 0 = no depth
    np.testing.assert_array_equal(mm, np.rint(metres.astype(np.float64) * 1000))
    assert mm[metres == 0].size and not mm[metres == 0].any() and mm[metres > 0].min() > 0

    again = cli("listen", "tcp://127.0.0.1:5560", "--mcap", path)
    assert "--overwrite" in again.one_line_error("vkstream listen")
    bad = cli("listen", "tcp://127.0.0.1:5560", "--mcap", tmp_path / "x.mcap", "--intrinsics", "1,2,3")
    assert "FX,FY,CX,CY" in bad.one_line_error("vkstream listen")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _decoder(channel: dict):
    pool = descriptor_pool.DescriptorPool()
    for file in descriptor_pb2.FileDescriptorSet.FromString(base64.b64decode(channel["schema"])).file:
        pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(channel["schemaName"]))


def test_listen_serves_live_images_over_foxglove_websocket(cli) -> None:
    port = _free_port()
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", queue_size=16)) as publisher:
        stop = threading.Event()
        _, publishing = _publish(publisher, ("front",), 100, period=0.05, stop=stop)
        done: list = []
        argv = (
            "listen",
            publisher.endpoint,
            "--foxglove",
            f"127.0.0.1:{port}",
            "--count",
            "60",
            "--duration",
            "20",
        )
        listener = threading.Thread(target=lambda: done.append(cli(*argv)), daemon=True)
        listener.start()
        images: list = []
        deadline = time.monotonic() + 20
        while True:
            try:
                ws = connect(f"ws://127.0.0.1:{port}", subprotocols=["foxglove.sdk.v1"], open_timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the Foxglove server never came up"
                time.sleep(0.1)
        with ws:
            assert ws.subprotocol == "foxglove.sdk.v1"
            channels: dict[int, dict] = {}
            while len(images) < 3 and time.monotonic() < deadline:
                message = ws.recv(timeout=5)
                if isinstance(message, str):
                    op = json.loads(message)
                    if op["op"] == "advertise":
                        for c in op["channels"]:
                            if c["topic"] == "/front/panoptic":
                                channels[c["id"]] = c
                                subscribe = {"id": 7, "channelId": c["id"]}
                                ws.send(json.dumps({"op": "subscribe", "subscriptions": [subscribe]}))
                    continue
                opcode, subscription, log_time = struct.unpack_from("<BIQ", message)
                assert (opcode, subscription) == (1, 7)
                (channel,) = channels.values()
                images.append((log_time, _decoder(channel).FromString(message[13:])))
        listener.join(timeout=25)
        stop.set()
        publishing.join(timeout=10)
    assert done and done[0].code == 0, done
    assert f"serving Foxglove on ws://127.0.0.1:{port}" in done[0].out
    assert len(images) >= 3
    assert all(img.encoding == "rgb8" and (img.width, img.height) == (64, 48) for _, img in images)
    assert all(t == img.timestamp.seconds * 10**9 + img.timestamp.nanos for t, img in images)
    assert [t for t, _ in images] == sorted(t for t, _ in images)


def test_foxglove_serves_loopback_unless_remote_viewers_are_allowed_explicitly(cli) -> None:
    listen = ("listen", "tcp://127.0.0.1:5560", "--duration", "0.1")
    assert "--allow-remote applies to --foxglove" in cli(*listen, "--allow-remote").one_line_error(
        "vkstream listen"
    )
    refused = cli(*listen, "--foxglove", "0.0.0.0:8765").one_line_error("vkstream listen")
    assert "would accept connections from other machines" in refused and "--allow-remote" in refused
    assert "expected HOST:PORT" in cli(*listen, "--foxglove", "8765:x").one_line_error("vkstream listen")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = cli(*listen, "--foxglove", f"127.0.0.1:{port}").one_line_error("vkstream listen")
    assert busy.startswith(f"cannot serve Foxglove on 127.0.0.1:{port}")

"""The publisher and subscriber over real ZeroMQ sockets on 127.0.0.1, across processes."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgpack
import numpy as np
import pydantic
import pytest
import zmq
from wire_samples import assert_published, make_output

from vkstream.client import CurveClientKeys, MalformedMessage, SchemaVersionError, Subscriber, create_keys
from vkstream.client.message import encode_message
from vkstream.nodes.publisher import CurveServerConfig, Publisher, PublisherConfig
from vkstream.wire import FrameOutput, Panoptic, panoptic_map, wrap_track_id

HELPER = Path(__file__).with_name("subscriber_process.py")


def _spawn(endpoint: str, out: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HELPER), endpoint, str(out), *args])


def _collect(proc: subprocess.Popen, out: Path) -> dict:
    assert proc.wait(timeout=30) == 0
    return pickle.loads(out.read_bytes())


def test_a_subscriber_in_another_process_receives_every_field_as_published(tmp_path: Path) -> None:
    publisher = Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", queue_size=8))
    out = tmp_path / "got.pkl"
    proc = _spawn(publisher.endpoint, out, "--idle", "1.0")
    assert publisher.wait_for_subscriptions(1, timeout=20)
    sent = [make_output("front", seq, dropped=seq // 2) for seq in range(5)]
    sent.append(make_output("front", 5, intrinsics=None, table=False, latency_ms={}))
    for output in sent:
        publisher.publish(output)
    assert publisher.flush(timeout=5)
    publisher.close()
    got = _collect(proc, out)
    assert [r.seq for r in got["results"]] == list(range(6))
    for result, output in zip(got["results"], sent, strict=True):
        assert_published(result, output)
    assert got["results"][-1].segments[0].xyz is None and got["results"][0].segments[-1].xyz is not None
    assert got["stats"]["lost"].get("front", 0) == 0
    assert publisher.stats.sent == {"front": 6}


def test_subscribers_get_only_the_streams_they_ask_for(publisher: Publisher) -> None:
    with (
        Subscriber(publisher.endpoint, ["cam1"]) as one,
        Subscriber(publisher.endpoint, ["cam10", "cam2"]) as two,
        Subscriber(publisher.endpoint) as every,
    ):
        assert publisher.wait_for_subscriptions(4, timeout=5)
        for seq in range(2):
            for stream in ("cam1", "cam10", "cam2", "cam3"):
                publisher.publish(make_output(stream, seq, size=(8, 8)))
        assert publisher.flush(timeout=5)
        assert _drain(one) == [("cam1", 0), ("cam1", 1)]
        assert sorted(_drain(two)) == [("cam10", 0), ("cam10", 1), ("cam2", 0), ("cam2", 1)]
        assert len(_drain(every)) == 8


def _drain(sub: Subscriber, idle: float = 0.3) -> list[tuple[str, int]]:
    got = []
    while (result := sub.receive(timeout=idle)) is not None:
        got.append((result.stream, result.seq))
    return got


def test_a_slow_subscriber_does_not_slow_the_publisher_and_its_losses_are_counted(tmp_path: Path) -> None:
    config = PublisherConfig(endpoint="tcp://127.0.0.1:*", sndhwm=2, codec="raw")
    total, tail, period = 40, 5, 0.01
    with Publisher(config) as publisher:
        out = tmp_path / "slow.pkl"
        slow = _spawn(publisher.endpoint, out, "--stall", "2.0", "--idle", "2.0", "--rcvhwm", "1")
        fast_got: list[int] = []
        with Subscriber(publisher.endpoint) as fast:
            assert publisher.wait_for_subscriptions(2, timeout=20)
            reader = threading.Thread(target=lambda: fast_got.extend(s for _, s in _drain(fast, 1.0)))
            reader.start()
            calls = []
            start = time.perf_counter()
            frame = make_output("front", 0, size=(375, 621))
            for seq in range(total):  # 1.4 MB per message: more than the slow reader's buffers hold
                output = dataclasses.replace(frame, seq=seq)
                t = time.perf_counter()
                publisher.publish(output)
                calls.append(time.perf_counter() - t)
                time.sleep(period)
            assert publisher.flush(timeout=5)
            elapsed = time.perf_counter() - start
            reader.join(timeout=10)
            # Once the slow reader is back, a few more results: what it missed becomes a gap it counts.
            time.sleep(max(0.0, 2.4 - (time.perf_counter() - start)))
            for seq in range(total, total + tail):
                publisher.publish(dataclasses.replace(frame, seq=seq))
                time.sleep(period)
            assert publisher.flush(timeout=5)
        slow_got = _collect(slow, out)
    # the slow reader stalled for 2 s; the publisher went on at its own pace
    assert elapsed < total * period + 2.0
    assert max(calls) < 0.1
    assert fast_got == list(range(total))
    seqs = [r.seq for r in slow_got["results"]]
    assert 0 < len(seqs) < total and seqs[-1] >= total
    lost = slow_got["stats"]["lost"]["front"]
    assert lost > 0 and lost == seqs[-1] - seqs[0] + 1 - len(seqs)
    assert publisher.stats.sent == {"front": total + tail} and publisher.stats.dropped == {}


def test_latest_only_keeps_the_newest_result_and_counts_what_it_replaced(publisher: Publisher) -> None:
    config = PublisherConfig(endpoint="tcp://127.0.0.1:*", latest_only=True, codec="png", codec_level=6)
    with Publisher(config) as latest, Subscriber(latest.endpoint, rcvhwm=1000) as sub:
        assert latest.wait_for_subscriptions(1, timeout=5)
        frames = [make_output("front", seq, size=(240, 320)) for seq in range(30)]
        for output in frames:  # a burst far faster than PNG encoding: results queue up
            latest.publish(output)
        assert latest.flush(timeout=10)
        stats = latest.stats
        got = []
        while (result := sub.receive(timeout=0.5)) is not None:
            got.append(result)
    assert stats.dropped["front"] > 0 and stats.sent["front"] + stats.dropped["front"] == 30
    assert got[-1].seq == 29 and len(got) == stats.sent["front"]
    assert got[-1].dropped == stats.dropped["front"]  # replaced results appear in the stream's count
    assert sub.stats.lost["front"] == 0  # every seq gap is explained by 'dropped'


def test_subscriber_latest_only_skips_a_backlog(publisher: Publisher) -> None:
    with Subscriber(publisher.endpoint, latest_only=True) as sub:
        assert publisher.wait_for_subscriptions(1, timeout=5)
        for seq in range(6):
            publisher.publish(make_output("a", seq, size=(8, 8)))
            publisher.publish(make_output("b", seq, size=(8, 8)))
        assert publisher.flush(timeout=5)
        time.sleep(0.2)  # let the backlog arrive
        got = [(r.stream, r.seq) for r in (sub.receive(timeout=1), sub.receive(timeout=1))]
        assert sorted(got) == [("a", 5), ("b", 5)]
        assert sub.receive(timeout=0.2) is None
        for stream in "ab":  # each of the five older results was superseded here or dropped by the publisher
            assert sub.stats.superseded[stream] + publisher.stats.dropped.get(stream, 0) == 5
            assert sub.stats.lost.get(stream, 0) == 0


def test_curve_admits_only_clients_with_the_right_keys(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    create_keys(keys, ("planner",))
    create_keys(tmp_path / "other", ("stranger",))
    curve = CurveServerConfig(
        secret_key_file=keys / "server.key_secret", authorized_clients=keys / "authorized_clients"
    )
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", curve=curve)) as publisher:
        endpoint = publisher.endpoint
        wrong_server = CurveClientKeys(keys / "planner.key_secret", tmp_path / "other" / "server.key")
        with (
            Subscriber(endpoint, curve=CurveClientKeys.from_dir(keys, "planner")) as good,
            Subscriber(endpoint, curve=CurveClientKeys.from_dir(tmp_path / "other", "stranger")) as stranger,
            Subscriber(endpoint, curve=wrong_server) as impostor,
            Subscriber(endpoint) as plain,
        ):
            assert publisher.wait_for_subscriptions(1, timeout=5)
            for seq in range(5):
                publisher.publish(make_output("front", seq, size=(8, 8)))
                time.sleep(0.05)
            assert publisher.flush(timeout=5)
            assert [seq for _, seq in _drain(good)] == list(range(5))
            for sub in (stranger, impostor, plain):
                assert sub.receive(timeout=0.1) is None
            assert publisher.subscriptions == 1


def test_curve_key_problems_are_one_line_errors(tmp_path: Path) -> None:
    create_keys(tmp_path, ("client",))
    with pytest.raises(ValueError, match="no secret key"):
        Publisher(PublisherConfig(curve=CurveServerConfig(secret_key_file=tmp_path / "server.key")))
    with pytest.raises(ValueError, match="not found"):
        Subscriber("tcp://127.0.0.1:1", curve=CurveClientKeys.from_dir(tmp_path, "nobody"))
    with pytest.raises(ValueError, match="already exists"):
        create_keys(tmp_path, ("client",))


@pytest.mark.parametrize(
    "endpoint", ["tcp://0.0.0.0:5560", "tcp://*:5560", "tcp://eth0:5560", "tcp://10.1.2.3:5560"]
)
def test_binding_beyond_loopback_must_be_asked_for(endpoint: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="allow_remote"):
        PublisherConfig(endpoint=endpoint)
    assert PublisherConfig(endpoint=endpoint, allow_remote=True).allow_remote


def test_loopback_and_bad_endpoints() -> None:
    for ok in ("tcp://127.0.0.1:5560", "tcp://localhost:*", "tcp://[::1]:5560", "ipc:///tmp/vk.sock"):
        PublisherConfig(endpoint=ok)
    for bad in ("127.0.0.1:5560", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "udp://127.0.0.1:5"):
        with pytest.raises(pydantic.ValidationError, match="invalid endpoint"):
            PublisherConfig(endpoint=bad)
    with Publisher(PublisherConfig(endpoint="tcp://0.0.0.0:*", allow_remote=True)) as remote:
        assert remote.endpoint.startswith("tcp://0.0.0.0:")
        with pytest.raises(ValueError, match="cannot bind"):
            Publisher(PublisherConfig(endpoint=remote.endpoint.replace("0.0.0.0", "127.0.0.1")))


def test_bad_results_are_refused_by_publish(publisher: Publisher) -> None:
    good = make_output("front", 3)
    publisher.publish(good)
    cases = {
        "does not follow 3": make_output("front", 3),
        "class id 19; the label space has 19 classes": make_output("front", 4),
        "finite metres": make_output("front", 4),
        "uint8 or uint16": make_output("front", 4),
        "track map must be non-negative": make_output("front", 4),
        "stream id": make_output("front view", 4),
        "added when publishing": make_output("front", 4, latency_ms={"total": 1.0}),
    }
    p = cases["class id 19; the label space has 19 classes"].panoptic
    p.classes[0, 0] = 19
    cases["finite metres"].depth[0, 0] = np.nan
    bad = cases["uint8 or uint16"]
    bad.panoptic = Panoptic(bad.panoptic.classes.astype(np.int64), bad.panoptic.tracks, bad.panoptic.labels)
    cases["track map must be non-negative"].panoptic.tracks[0, 0] = -1
    for match, output in cases.items():
        with pytest.raises(ValueError, match=match):
            publisher.publish(output)
    labels = panoptic_map(np.full((4, 4), 13, np.uint8), np.full((4, 4), 2, np.int32))
    assert labels.dtype == np.uint32 and int(labels[0, 0]) == (13 << 16) | 2
    tracks = np.array([[0, 65535, 65536, 65537 + 65535]], np.int64)  # a stream that ran for hours
    wrapped = panoptic_map(np.full(tracks.shape, 13, np.uint8), tracks)
    assert (wrapped >> 16).tolist() == [[13] * 4]
    assert (wrapped & 0xFFFF).tolist() == [[0, 65535, 1, 2]]
    assert [wrap_track_id(t) for t in (0, 7, 65535, 65536)] == [0, 7, 65535, 1]
    assert publisher.flush(timeout=5) and publisher.stats.sent == {"front": 1}


def test_bad_messages_on_the_wire_raise_or_are_skipped_and_the_subscriber_goes_on() -> None:
    context = zmq.Context.instance()
    raw = context.socket(zmq.XPUB)
    raw.setsockopt(zmq.XPUB_VERBOSER, 1)
    port = raw.bind_to_random_port("tcp://127.0.0.1")
    valid = encode_message(_decoded_sample(), "lz4")
    obj = msgpack.unpackb(valid[1])
    future = msgpack.packb({**obj, "schema": "vkstream.result/2"})
    bad = [[valid[0], b"\x93garbage"], [valid[0], valid[1][:100]], [valid[0]], [valid[0], future]]
    try:
        for on_error in ("raise", "skip"):
            with Subscriber(f"tcp://127.0.0.1:{port}", on_error=on_error) as sub:
                while raw.poll(5000) and raw.recv()[0] != 1:  # wait until the subscription arrives
                    pass
                for message in bad:
                    raw.send_multipart(message)
                    raw.send_multipart(valid)
                for _ in bad:
                    if on_error == "raise":
                        with pytest.raises((MalformedMessage, SchemaVersionError)):
                            sub.receive(timeout=2)
                    assert sub.receive(timeout=2).seq == 7
                assert sub.stats.bad["front"] == 4 and sub.stats.received["front"] == 4
    finally:
        raw.close(linger=0)


def _decoded_sample():
    from vkstream.client import decode_message

    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub, Subscriber(pub.endpoint) as sub:
        assert pub.wait_for_subscriptions(1, timeout=5)
        pub.publish(make_output("front", 7, size=(16, 16)))
        result = sub.receive(timeout=5)
    assert result is not None
    return decode_message(encode_message(result, "raw"))


def test_publish_returns_quickly_and_close_sends_what_is_queued(tmp_path: Path) -> None:
    out = tmp_path / "got.pkl"
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", queue_size=8)) as publisher:
        proc = _spawn(publisher.endpoint, out, "--idle", "1.0")
        assert publisher.wait_for_subscriptions(1, timeout=20)
        for seq in range(8):
            publisher.publish(make_output("front", seq))
    # closed without flush: every queued result still went out
    assert [r.seq for r in _collect(proc, out)["results"]] == list(range(8))
    with pytest.raises(RuntimeError, match="closed"):
        publisher.publish(make_output("front", 9))


def test_frame_output_is_copied_at_publish(publisher: Publisher) -> None:
    with Subscriber(publisher.endpoint) as sub:
        assert publisher.wait_for_subscriptions(1, timeout=5)
        output = make_output("front", 0, size=(8, 8))
        expected = panoptic_map(output.panoptic.classes, output.panoptic.tracks)
        publisher.publish(output)
        output.panoptic.classes[:] = 0  # a pipeline reusing its buffers must not change what is sent
        output.panoptic.tracks[:] = 0
        result = sub.receive(timeout=5)
    assert result is not None and np.array_equal(result.panoptic, expected)
    assert isinstance(output, FrameOutput)

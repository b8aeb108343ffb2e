"""Hostile peers on real ZeroMQ sockets: what a subscriber or the publisher may be sent, and must survive."""

from __future__ import annotations

import time

import msgpack
import numpy as np
import pytest
import zmq
from wire_samples import make_output

from vkstream.client import MalformedMessage, Subscriber, decode_array, encode_array
from vkstream.client.message import encode_message
from vkstream.nodes.publisher import MAX_UPSTREAM_BYTES, Publisher, PublisherConfig
from vkstream.wire import stream_result


def _valid(seq: int) -> list[bytes]:
    return encode_message(stream_result(make_output("cam", seq, size=(6, 8)), 1, 1, 0), "raw")


def _with_array(key: str, **array: object) -> list[bytes]:
    topic, payload = _valid(0)
    obj = msgpack.unpackb(payload, raw=False)
    obj[key].update(array)
    return [topic, msgpack.packb(obj, use_bin_type=True)]


@pytest.fixture
def pub_socket():
    """A plain PUB socket on loopback: a publisher that sends whatever a test wants."""
    context = zmq.Context()
    socket = context.socket(zmq.PUB)
    socket.setsockopt(zmq.LINGER, 0)
    port = socket.bind_to_random_port("tcp://127.0.0.1")
    yield socket, f"tcp://127.0.0.1:{port}"
    socket.close()
    context.term()


def _send_until_received(socket: zmq.Socket, sub: Subscriber, frames: list[bytes], timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        socket.send_multipart(frames)
        result = sub.receive(timeout=0.1)
        if result is not None:
            return result
    raise AssertionError("nothing received")


def test_a_shape_whose_size_overflows_64_bits_is_skipped_and_the_subscriber_goes_on(pub_socket) -> None:
    socket, endpoint = pub_socket
    hostile = _with_array("panoptic", shape=[2**30, 2**30, 16], codec="raw", data=b"")  # 2**64: 0 in int64
    with pytest.raises(MalformedMessage, match="declared size"):
        decode_array(msgpack.unpackb(hostile[1], raw=False)["panoptic"], "panoptic")
    # Found by benchmarks/fuzz.py: an empty array (size 0) whose other dimension numpy cannot hold.
    with pytest.raises(MalformedMessage, match="has a dimension over"):
        decode_array({"dtype": "<u4", "shape": [0, 2**63], "codec": "raw", "data": b""}, "panoptic")
    with Subscriber(endpoint, on_error="skip") as sub:
        _send_until_received(socket, sub, _valid(0))
        for _ in range(3):
            socket.send_multipart(hostile)
        assert _send_until_received(socket, sub, _valid(1)).seq == 1
        assert sub.stats.bad["cam"] >= 3


def test_a_small_png_declaring_a_huge_image_is_refused_before_it_is_decoded() -> None:
    big = encode_array(np.zeros((3000, 4000), np.uint32), "png", level=9)["data"]  # 48 MB decoded
    assert len(big) < 50_000
    array = {"dtype": "<u4", "shape": [1, 1], "codec": "png", "data": big}
    with pytest.raises(MalformedMessage, match=r"PNG's header holds a 4000x3000 .*needs 1x1"):
        decode_array(array, "panoptic")
    # A header that matches still decodes: the check is of the header alone.
    small = encode_array(np.arange(12, dtype=np.uint32).reshape(3, 4), "png")
    assert decode_array(small).tolist() == np.arange(12).reshape(3, 4).tolist()


def test_a_message_over_the_subscribers_limit_is_never_buffered(pub_socket) -> None:
    socket, endpoint = pub_socket
    with Subscriber(endpoint, on_error="skip", max_message_bytes=20_000) as sub:
        assert sub._socket.getsockopt(zmq.MAXMSGSIZE) == 20_000
        _send_until_received(socket, sub, _valid(0))
        topic, _ = _valid(1)
        socket.send_multipart([topic, b"\0" * 200_000])  # libzmq drops the connection on reading its size
        time.sleep(0.3)
        assert _send_until_received(socket, sub, _valid(2)).seq == 2  # reconnected
        assert sum(sub.stats.bad.values()) == 0  # never received, so never decoded


def test_upstream_messages_to_the_publisher_are_not_subscriptions() -> None:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as publisher:
        assert publisher._socket.getsockopt(zmq.MAXMSGSIZE) == MAX_UPSTREAM_BYTES
        with Subscriber(publisher.endpoint, topic_prefix="vkstream"):
            assert publisher.wait_for_subscriptions(1, timeout=5)
            context = zmq.Context()
            xsub = context.socket(zmq.XSUB)
            xsub.setsockopt(zmq.LINGER, 0)
            xsub.connect(publisher.endpoint)
            time.sleep(0.2)
            for message in (
                [b"hello"],
                [b"\x00", b"\x00"],
                [b"\x02vkstream/"],
                [b"\x00never-subscribed"],
                [b"\x00never-subscribed"],
                [b"\x00vkstream/elsewhere"],
                [b""],
            ):
                xsub.send_multipart(message)
            time.sleep(0.5)
            assert publisher.subscriptions == 1
            xsub.send(b"\x01vkstream/cam")
            assert publisher.wait_for_subscriptions(2, timeout=5)
            xsub.close()
            context.term()
            deadline = time.monotonic() + 5
            while publisher.subscriptions != 1:  # the XSUB's subscription ends with its connection
                assert time.monotonic() < deadline, publisher.subscriptions
                time.sleep(0.05)

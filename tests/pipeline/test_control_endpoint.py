"""The control endpoint over real ZeroMQ on 127.0.0.1: malformed requests, CURVE, malformed replies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.pipeline.conftest import make_config
from vkstream.client import ControlClient, ControlError, CurveClientKeys, create_keys
from vkstream.nodes.curve_server import CurveServerConfig
from vkstream.pipeline.config import ControlConfig
from vkstream.pipeline.control import MAX_SOCKET_BYTES, ControlServer
from vkstream.pipeline.runtime import Pipeline, PipelineError


@pytest.fixture
def server() -> Iterator[ControlServer]:
    """A control endpoint of a pipeline that is not running: ``ping`` answers, the other ops refuse."""
    control = ControlServer(Pipeline(make_config("ctl")), "tcp://127.0.0.1:*")
    yield control
    control.close()


def raw_request(endpoint: str, parts: list[bytes], timeout_ms: int = 3000) -> list[bytes] | None:
    """Send ``parts`` as one request from a plain REQ socket; the reply's parts, or None."""
    context = zmq.Context.instance()
    socket = context.socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, timeout_ms)
    try:
        socket.connect(endpoint)
        socket.send_multipart(parts)
        return socket.recv_multipart()
    except zmq.Again:
        return None
    finally:
        socket.close()


MALFORMED = {
    "multipart": [b'{"op": "ping"}', b'{"op": "ping"}'],
    "binary": [bytes(range(256))],
    "json array": [b'["ping"]'],
    "json string": [b'"ping"'],
    "wrong types": [b'{"op": 7, "id": [1, 2]}'],
    "detach without an id": [b'{"op": "detach", "id": {"x": 1}}'],
    "attach of garbage": [b'{"op": "attach", "stream": {"id": [1], "source": 3}}'],
    "deep nesting": [b"[" * 100_000 + b"]" * 100_000],
    "4 MiB": [b'{"op": "ping", "pad": "' + b"x" * (4 << 20) + b'"}'],
    "empty": [b""],
    "empty parts": [b"", b""],
}


def test_every_malformed_request_gets_a_json_error_and_the_endpoint_goes_on(server: ControlServer) -> None:
    for name, parts in MALFORMED.items():
        reply = raw_request(server.endpoint, parts)
        assert reply is not None and len(reply) == 1, name
        answer = json.loads(reply[0])
        assert answer["ok"] is False and answer["error"] and "\n" not in answer["error"], (name, answer)
        assert ControlClient(server.endpoint, 3).call("ping") == "pong", name
    assert server.refused == len(MALFORMED)
    with pytest.raises(ControlError, match="not running"):
        ControlClient(server.endpoint, 3).call("stats")


def test_a_request_over_the_socket_limit_is_never_read(server: ControlServer) -> None:
    assert raw_request(server.endpoint, [b"x" * (MAX_SOCKET_BYTES + 1)], timeout_ms=1500) is None
    assert ControlClient(server.endpoint, 3).call("ping") == "pong"


def test_a_remote_control_endpoint_needs_curve_keys(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not loopback"):
        ControlConfig(endpoint="tcp://0.0.0.0:5561", allow_remote=True)
    with pytest.raises(ValueError, match="needs CURVE keys"):
        ControlServer(Pipeline(make_config("ctl")), "tcp://0.0.0.0:*", allow_remote=True)
    create_keys(tmp_path / "keys", ("operator",))
    curve = CurveServerConfig(
        secret_key_file=tmp_path / "keys" / "server.key_secret",
        authorized_clients=tmp_path / "keys" / "authorized_clients",
    )
    assert ControlConfig(endpoint="tcp://0.0.0.0:5561", allow_remote=True, curve=curve).curve == curve


def test_curve_admits_only_the_operators_keys(tmp_path: Path, cli) -> None:
    keys = tmp_path / "keys"
    create_keys(keys, ("operator",))
    create_keys(tmp_path / "other", ("stranger",))
    curve = CurveServerConfig(
        secret_key_file=keys / "server.key_secret", authorized_clients=keys / "authorized_clients"
    )
    stopped = threading.Event()
    control = ControlServer(
        Pipeline(make_config("ctl")), "tcp://127.0.0.1:*", curve=curve, on_shutdown=stopped.set
    )
    try:
        endpoint = control.endpoint
        for client in (
            ControlClient(endpoint, 1.0),  # no keys
            ControlClient(endpoint, 1.0, curve=CurveClientKeys.from_dir(tmp_path / "other", "stranger")),
            ControlClient(
                endpoint,
                1.0,
                curve=CurveClientKeys(keys / "operator.key_secret", tmp_path / "other" / "server.key"),
            ),
        ):
            with pytest.raises(ControlError, match="no answer"):
                client.call("shutdown")
        assert raw_request(endpoint, [b'{"op": "shutdown"}'], timeout_ms=1000) is None
        assert not stopped.is_set() and control.served == 0
        operator = ControlClient(endpoint, 5.0, curve=CurveClientKeys.from_dir(keys, "operator"))
        assert operator.call("ping") == "pong"
        ctl = cli("ctl", "--endpoint", endpoint, "--keys", keys, "--client", "operator", "--json", "streams")
        assert ctl.code == 0 and json.loads(ctl.out) == {}, ctl
        assert operator.call("shutdown") == "shutting down"
        assert stopped.wait(5)
    finally:
        control.close()


@pytest.mark.parametrize(
    "reply",
    [[b"[1, 2]"], [b'"pong"'], [b"null"], [b"\xff\xfe"], [b""], [b'{"ok": true}', b"more"], [b'{"ok": 1}']],
)
def test_the_client_turns_any_malformed_reply_into_a_control_error(reply: list[bytes]) -> None:
    context = zmq.Context.instance()
    rep = context.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    port = rep.bind_to_random_port("tcp://127.0.0.1")

    def answer() -> None:
        if rep.poll(5000):
            rep.recv_multipart()
            rep.send_multipart(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with pytest.raises(ControlError):
            ControlClient(f"tcp://127.0.0.1:{port}", 3.0).call("ping")
    finally:
        thread.join(5)
        rep.close()


def test_binding_a_busy_control_port_is_one_line(server: ControlServer) -> None:
    with pytest.raises(PipelineError, match="cannot bind the control endpoint"):
        ControlServer(Pipeline(make_config("ctl")), server.endpoint)

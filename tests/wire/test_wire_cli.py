"""``vkstream keys`` and ``vkstream listen`` end to end, against a real publisher."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from wire_samples import make_output

from vkstream.client import CurveClientKeys, Subscriber
from vkstream.data import read_png
from vkstream.launch.cli import main
from vkstream.launch.config import load_config
from vkstream.nodes.publish_node import PublishOptions
from vkstream.nodes.publisher import CurveServerConfig, Publisher, PublisherConfig
from vkstream.viz.listen import count_reached


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([os.fspath(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _publish_when_listened(publisher: Publisher, streams: tuple[str, ...], count: int) -> threading.Thread:
    def work() -> None:
        assert publisher.wait_for_subscriptions(1, timeout=20)
        for seq in range(count):
            for stream in streams:
                publisher.publish(make_output(stream, seq))
            publisher.flush(timeout=5)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_keys_writes_usable_key_files_and_never_overwrites(tmp_path: Path, capsys) -> None:
    code, out, _ = _run(capsys, "keys", tmp_path / "keys", "--clients", "planner", "logger")
    assert code == 0 and "planner" in out and "authorized_clients" in out
    keys = tmp_path / "keys"
    for name in ("server", "planner", "logger"):
        assert (keys / f"{name}.key").is_file()
        assert stat.S_IMODE((keys / f"{name}.key_secret").stat().st_mode) == 0o600
    assert sorted(p.name for p in (keys / "authorized_clients").iterdir()) == ["logger.key", "planner.key"]
    assert (
        CurveClientKeys.from_dir(keys, "planner").load()[2]
        == (keys / "server.key").read_text().split('"')[1].encode()
    )
    code, _, err = _run(capsys, "keys", keys)
    assert (
        code == 2
        and err.startswith("vkstream keys: error: ")
        and "already exists" in err
        and len(err.splitlines()) == 1
    )
    code, _, err = _run(capsys, "keys", tmp_path / "more", "--clients", "server")
    assert code == 2 and "distinct" in err


def test_listen_reports_and_saves_colour_images(tmp_path: Path, capsys) -> None:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", queue_size=8)) as publisher:
        thread = _publish_when_listened(publisher, ("front", "rear"), 3)
        code, out, err = _run(
            capsys, "listen", publisher.endpoint, "--streams", "front", "--count", "3",
            "--save", tmp_path / "out", "--interval", "0.2", "--duration", "20",
        )  # fmt: skip
        thread.join(timeout=10)
    assert code == 0, err
    assert "received 3 messages from 1 stream(s)" in out and "front: 3 messages" in out and "rear" not in out
    assert "msg/s" in out and "latency" in out and "segments" in out and "things" in out
    saved = sorted(p.name for p in (tmp_path / "out" / "front").iterdir())
    assert saved == [f"{seq:06d}_{kind}.png" for seq in range(3) for kind in ("depth", "panoptic")]
    panoptic = read_png(tmp_path / "out" / "front" / "000000_panoptic.png", expect="rgb")
    assert panoptic.shape == (48, 64, 3) and len({tuple(c) for c in panoptic.reshape(-1, 3)}) > 3


def test_listen_counts_messages_per_stream(capsys) -> None:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", queue_size=16)) as publisher:
        thread = _publish_when_listened(publisher, ("front", "rear"), 4)
        code, out, err = _run(capsys, "listen", publisher.endpoint, "--count", "3", "--duration", "20")
        thread.join(timeout=10)
    assert code == 0, err
    assert "received 6 messages from 2 stream(s)" in out  # 3 frames of each camera, not 3 in all
    assert "front: 3 messages" in out and "rear: 3 messages" in out


def test_a_named_stream_must_reach_the_count_too() -> None:
    assert not count_reached({}, 2, None)  # nothing heard yet
    assert count_reached({"front": 2}, 2, None)
    assert not count_reached({"front": 2, "rear": 1}, 2, None)
    assert not count_reached({"front": 5}, 2, ["front", "rear"])  # rear named but silent: keep listening
    assert count_reached({"front": 5, "rear": 2}, 2, ["front", "rear"])
    assert not count_reached({"front": 5}, None, None)  # no count: until the duration or Ctrl-C


def test_listen_with_curve_keys(tmp_path: Path, capsys) -> None:
    assert _run(capsys, "keys", tmp_path)[0] == 0
    curve = CurveServerConfig(
        secret_key_file=tmp_path / "server.key_secret", authorized_clients=tmp_path / "authorized_clients"
    )
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*", curve=curve)) as publisher:
        thread = _publish_when_listened(publisher, ("front",), 2)
        code, out, err = _run(
            capsys, "listen", publisher.endpoint, "--keys", tmp_path, "--count", "2", "--duration", "20"
        )
        thread.join(timeout=10)
    assert code == 0 and "received 2 messages" in out, err


def test_listen_ends_after_its_duration_and_reports_bad_input_in_one_line(tmp_path: Path, capsys) -> None:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as publisher:
        code, out, _ = _run(capsys, "listen", publisher.endpoint, "--duration", "0.3", "--interval", "0.1")
    assert code == 0 and "received 0 messages" in out
    for argv, match in (
        (("listen", "nowhere"), "cannot connect"),
        (("listen", "tcp://127.0.0.1:5560", "--count", "0"), "--count"),
        (("listen", "tcp://127.0.0.1:5560", "--streams", "a b"), "stream id"),
        (("listen", "tcp://127.0.0.1:5560", "--keys", tmp_path / "none"), "not found"),
    ):
        code, _, err = _run(capsys, *argv)
        assert (
            code == 2
            and err.startswith("vkstream listen: error: ")
            and match in err
            and len(err.splitlines()) == 1
        ), err


def test_subscriber_is_usable_as_documented(publisher: Publisher) -> None:
    with Subscriber(publisher.endpoint, streams=["front"]) as sub:
        assert publisher.wait_for_subscriptions(1, timeout=5)
        publisher.publish(make_output("front", 0))
        for result in sub:
            names = {result.class_name(seg) for seg in result.segments if seg.thing}
            assert names == {"car", "person"} and all(
                seg.xyz is not None for seg in result.segments if seg.thing
            )
            break


def test_publisher_config_is_shown_and_checked(tmp_path: Path, capsys) -> None:
    code, shown, _ = _run(capsys, "config", "show", "publisher")
    assert code == 0 and "endpoint: tcp://127.0.0.1:5560" in shown and "codec: zstd" in shown
    path = tmp_path / "publisher.yaml"
    path.write_text(shown.replace("latest_only: false", "latest_only: true"))
    assert load_config(path, PublishOptions) == PublishOptions(
        latest_only=True
    )  # the publisher node's options
    assert _run(capsys, "config", "check", "publisher", path)[0] == 0
    path.write_text("endpoint: tcp://0.0.0.0:5560\n")
    code, _, err = _run(capsys, "config", "check", "publisher", path)
    assert code == 2 and "would accept connections from other machines" in err

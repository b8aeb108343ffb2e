"""``vkstream run`` and ``vkstream ctl`` as a user runs them: a real process on the session's Ray."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
import yaml

from tests.conftest import REPO
from tests.pipeline.conftest import MODEL, evaluator_node, model_nodes
from vkstream.client.control import ControlClient, ControlError

SHIPPED = sorted((REPO / "configs" / "pipeline").glob("*.yaml"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(
    path: Path, root: Path, *, loop: bool, speed: float, control_port: int | None = None
) -> Path:
    config = {
        "name": path.stem,
        "model": MODEL,
        "nodes": [
            *model_nodes(),
            {"name": "publisher", "type": "publisher", "options": {"endpoint": "tcp://127.0.0.1:*"}},
            evaluator_node(),
        ],
        "streams": [
            {
                "id": "cam0",
                "source": {
                    "kind": "kitti",
                    "root": str(root),
                    "sequence": "000000",
                    "speed": speed,
                    "loop": loop,
                    "ground_truth": True,
                },
            }
        ],
        "control": {
            "enabled": control_port is not None,
            "endpoint": f"tcp://127.0.0.1:{control_port or 5561}",
        },
        "telemetry": {"skip_first": 0, "report_every_s": 1.0},
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.name)
def test_dry_run_of_every_shipped_config_prints_the_dag_and_the_actor_plan(cli, config: Path) -> None:
    result = cli("run", config, "--dry-run")
    assert result.code == 0, result.err
    assert "Model: checkpoints/synth_small.pt on " in result.out
    assert "[publisher] <- depth_head.panoptic, depth_head.depth  (sink)" in result.out
    assert "backbone [backbone], kernel_tracker [kernel_tracker], depth_head [depth_head]" in result.out
    assert cli("config", "check", "pipeline", config).out == f"ok: {config}\n"


def test_the_fanout_graph_feeds_a_publisher_an_evaluator_and_a_recorder_from_one_model(cli) -> None:
    out = cli("run", REPO / "configs" / "pipeline" / "fanout.yaml", "--dry-run").out
    feeds = "<- depth_head.panoptic, depth_head.depth"
    assert f"publisher      [publisher] {feeds}  (sink)" in out
    assert f"evaluator      [evaluator] {feeds}, ingest.truth  (sink)" in out
    assert f"recorder       [recorder] {feeds}, ingest.image  (sink)" in out
    assert out.count("Model: ") == 1 and "fanout-backbone+kernel_tracker+depth_head: " in out


def test_a_config_wired_to_a_port_that_does_not_exist_is_refused(cli, tmp_path: Path) -> None:
    text = (REPO / "configs" / "pipeline" / "fanout.yaml").read_text()
    path = tmp_path / "typo.yaml"
    path.write_text(
        text.replace("inputs: [depth_head.panoptic, depth_head.depth]", "inputs: [depth_head.segments]")
    )
    message = cli("run", path, "--dry-run").one_line_error("vkstream run")
    assert message == (
        f"{path}: nodes[3] (publisher): input 'depth_head.segments': node 'depth_head' has no output "
        "'segments' (outputs: panoptic, depth)"
    )
    assert cli("config", "check", "pipeline", path).one_line_error("vkstream config check") == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("nodes: []\n", "nodes: List should have at least 1 item"),
        (
            "nodes: [{name: a, type: backbone}]\nstreams: [{id: x, source: {kind: webcam}}]\n",
            "streams[0].source: Input tag 'webcam'",
        ),
        ("nodes: [{name: a, type: nowhere}]\n", "nodes[0] (a): unknown node type 'nowhere'"),
        (
            "nodes: [{name: a, type: backbone, options: {checkpoint: x.pt}}]\n",
            "nodes[0] (a): unknown option 'checkpoint'",
        ),
        ("nodes: [{name: a, type: backbone}]\nbatchin: {}\n", "did you mean 'batching'"),
    ],
)
def test_bad_configs_fail_in_one_line(cli, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert message in cli("run", path, "--dry-run").one_line_error("vkstream run")


def test_run_replays_to_the_end_and_reports_the_online_evaluation(
    ray_session: str, script, kitti_datasets, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "replay-run.yaml", kitti_datasets["semkitti-dvps"], loop=False, speed=0)
    out = tmp_path / "final.json"
    result = script("run", config, "--address", ray_session, "--json", out)
    assert result.code == 0, result.err
    assert "online evaluation (evaluator):" in result.out
    assert "cam0#1" in result.out
    final = json.loads(out.read_text())
    assert final["streams"]["cam0"]["frames"] == 4
    assert final["reports"]["evaluator"]["evaluation"]["frames"] == 4


def test_ctl_drives_a_running_pipeline_and_sigterm_shuts_it_down_cleanly(
    ray_session: str, cli, kitti_datasets, tmp_path: Path
) -> None:
    port = free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    root = kitti_datasets["semkitti-dvps"]
    config = write_config(tmp_path / "served.yaml", root, loop=True, speed=2, control_port=port)
    process = subprocess.Popen(
        [sys.executable, "-m", "vkstream", "run", str(config), "--serve", "--address", ray_session],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = ControlClient(endpoint, timeout_s=2.0)
        deadline = time.monotonic() + 90
        while True:
            try:
                if client.call("stats")["streams"]["cam0"]["frames"] >= 2:
                    break
            except (ControlError, KeyError):
                pass
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the pipeline did not start"
            time.sleep(0.5)
        source = f"kitti:{root}:000001"
        assert cli("ctl", "--endpoint", endpoint, "attach", "cam1", source, "--speed", "2").code == 0
        streams = cli("ctl", "--endpoint", endpoint, "streams")
        assert "cam0: streaming" in streams.out and "cam1:" in streams.out
        assert "cam0" in cli("ctl", "--endpoint", endpoint, "stats").out
        assert "already attached" in cli(
            "ctl", "--endpoint", endpoint, "attach", "cam1", source
        ).one_line_error("vkstream ctl")
        assert cli("ctl", "--endpoint", endpoint, "detach", "cam1").code == 0
        assert "no stream 'cam1'" in cli("ctl", "--endpoint", endpoint, "detach", "cam1").one_line_error(
            "vkstream ctl"
        )
        assert cli("ctl", "--endpoint", endpoint, "ping").out.strip() == "pong"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "SIGTERM: shutting down" in err
    assert "final:" in out
    names = {a["name"] for a in ray.util.list_named_actors(all_namespaces=True)}
    assert not any(n.startswith("served-") for n in names), names
    with pytest.raises(ControlError, match="no answer"):
        ControlClient(endpoint, timeout_s=1.0).call("ping")
    with socket.socket() as s:  # the control port is free again
        s.bind(("127.0.0.1", port))


def test_ctl_without_a_pipeline_says_so(cli) -> None:
    message = cli(
        "ctl", "--endpoint", f"tcp://127.0.0.1:{free_port()}", "--timeout", "0.5", "ping"
    ).one_line_error("vkstream ctl")
    assert "is vkstream run running?" in message

"""A real two-node Ray cluster on this machine: the model on one node, the publisher on the other."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.pipeline.conftest import MODEL, kitti_stream, model_nodes
from tests.pipeline.test_run_command import free_port

SCRIPT = Path(__file__).with_name("two_node_cluster.py")


def own_network_namespace() -> bool:
    """The cluster runs in a network namespace of its own, where loopback is the only interface."""
    return shutil.which("unshare") is not None and subprocess.run(["unshare", "-n", "true"]).returncode == 0


@pytest.mark.skipif(not own_network_namespace(), reason="needs `unshare -n` (network namespaces)")
def test_the_model_and_the_publisher_run_on_the_nodes_their_resources_name(
    kitti_datasets, tmp_path: Path
) -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    model_host, planner_host = {"custom": {"model_host": 0.5}}, {"custom": {"planner_host": 0.5}}
    config = {
        "name": "two-nodes",
        "model": MODEL,
        "nodes": [
            *({**n, "resources": model_host} for n in model_nodes()),
            {
                "name": "publisher",
                "type": "publisher",
                "options": {"endpoint": endpoint},
                "resources": planner_host,
            },
        ],
        "streams": [kitti_stream("cam0", kitti_datasets["semkitti-dvps"], "000000", speed=2, loop=True)],
        "control": {"enabled": False},
        "telemetry": {"skip_first": 0},
    }
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "out.json"
    command = ["unshare", "-n", sys.executable, str(SCRIPT), str(path), "12", str(out), endpoint]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = process.communicate(timeout=200)
    except subprocess.TimeoutExpired:
        process.terminate()  # the script stops its cluster on SIGTERM
        _, stderr = process.communicate(timeout=60)
        pytest.fail(f"the two-node run did not finish in 200 s: {stderr[-3000:]}")
    assert process.returncode == 0, stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["code"] == 0, report["stderr"]
    by_resource = {
        r: [n["id"] for n in report["nodes"] if r in n["resources"]] for r in ("model_host", "planner_host")
    }
    assert all(n["ip"] == "127.0.0.1" for n in report["nodes"]) and len(report["nodes"]) == 2
    actors = {a["actor"]: a for a in report["final"]["actors"]}
    assert [actors["backbone+kernel_tracker+depth_head"]["node"]] == by_resource["model_host"]
    assert [actors["publisher"]["node"]] == by_resource["planner_host"] != by_resource["model_host"]
    # Frames went from the ingest through the model on one node to the publisher on the other, and on
    # over ZeroMQ to a subscriber, in order.
    seqs = [seq for stream, seq in report["received"] if stream == "cam0"]
    assert len(seqs) >= 5 and seqs == sorted(set(seqs))
    assert report["final"]["streams"]["cam0"]["frames"] >= 5
    assert report["final"]["reports"]["publisher"]["sent"]["cam0"] >= 5

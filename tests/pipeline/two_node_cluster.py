"""A two-node Ray cluster on loopback running ``vkstream run --address auto``, then stopped again.

Run inside a network namespace of its own (``unshare -n``) where only ``lo`` exists, so both Ray nodes
get the node IP 127.0.0.1 and nothing listens beyond loopback:

    python two_node_cluster.py CONFIG SECONDS OUT.json ENDPOINT

starts a head node (custom resource ``planner_host``) and a second node (``model_host``) with ``ray
start``, waits until both are up, runs the pipeline for SECONDS while a subscriber counts what the
publisher sends, and writes the run's final figures, what was received and the nodes' ids and
resources to OUT.json. The cluster is stopped by signalling its own ``ray start`` processes, whatever
happens, so no other Ray on the machine is touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
NODE = [
    "--node-ip-address=127.0.0.1",
    "--num-cpus=2",
    "--object-store-memory=100000000",
    "--disable-usage-stats",
    "--block",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], log: Path) -> subprocess.Popen:
    out = log.open("w")
    return subprocess.Popen(
        [str(VENV_BIN / "ray"), "start", *args, *NODE],
        stdout=out,
        stderr=out,
        env=ENV,
        start_new_session=True,
    )


def nodes(address: str, want: int, timeout: float) -> list[dict]:
    """The alive nodes once ``want`` of them are up (polled from a short-lived driver)."""
    script = (
        "import json, sys, time, ray\n"
        f"ray.init(address={address!r}, logging_level='ERROR')\n"
        f"deadline = time.monotonic() + {timeout}\n"
        "while True:\n"
        "    alive = [n for n in ray.nodes() if n['Alive']]\n"
        f"    if len(alive) >= {want} or time.monotonic() > deadline: break\n"
        "    time.sleep(0.5)\n"
        "print(json.dumps([{'id': n['NodeID'], 'ip': n['NodeManagerAddress'], 'resources': n['Resources']}"
        " for n in alive]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout + 60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to a ``ray start --block`` stops its node's processes; what is left of its group is killed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the session start_new_session made for this node


def main(config: str, seconds: float, out: str, endpoint: str) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))  # so the cluster is stopped
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from vkstream.client import Subscriber

    temp = Path(tempfile.mkdtemp(prefix="vk-cluster-"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    head = start(
        [
            "--head",
            f"--port={port}",
            f"--temp-dir={temp}",
            "--include-dashboard=false",
            '--resources={"planner_host": 1}',
        ],
        temp / "head.log",
    )
    worker = run = None
    try:
        deadline = time.monotonic() + 90
        while not (temp / "ray_current_cluster").exists():
            if time.monotonic() > deadline or head.poll() is not None:
                raise RuntimeError(f"the head node did not start: {(temp / 'head.log').read_text()[-2000:]}")
            time.sleep(0.5)
        worker = start([f"--address={address}", '--resources={"model_host": 1}'], temp / "worker.log")
        cluster = nodes(address, 2, 90)
        received: list[tuple[str, int]] = []
        with Subscriber(endpoint) as subscriber:
            run = subprocess.Popen(
                [str(VENV_BIN / "vkstream"), "run", config, "--address", "auto", "--duration", str(seconds),
                 "--json", out + ".run"],
                env={**ENV, "RAY_ADDRESS": address},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            while run.poll() is None:
                result = subscriber.receive(timeout=0.2)
                if result is not None:
                    received.append((result.stream, result.seq))
            stdout, stderr = run.communicate()
        final = json.loads(Path(out + ".run").read_text()) if run.returncode == 0 else None
        report = {"code": run.returncode, "stdout": stdout, "stderr": stderr[-4000:], "final": final}
        Path(out).write_text(json.dumps({**report, "nodes": cluster, "received": received}))
    finally:
        if run is not None and run.poll() is None:
            run.terminate()  # vkstream run shuts down cleanly on SIGTERM
            with contextlib.suppress(subprocess.TimeoutExpired):
                run.wait(30)
        for process in (worker, head):
            if process is not None:
                stop(process)
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4])

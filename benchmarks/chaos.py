"""Chaos: kill each kind of actor in turn during a replay; time from the kill to the next published frame.

    python benchmarks/chaos.py [--kills 2] [--json OUT]

The shipped model (checkpoints/synth_small.pt, CPU, one thread) on a synthetic KITTI-STEP replay at
speed 0 (flow-controlled, looping) and an MJPEG camera on 127.0.0.1. In turn, ``--kills`` times each,
it kills (``ray.kill(no_restart=False)``, as a crash or an out-of-memory kill would) the replay's
ingest, the model actor and the sinks' actor (publisher and evaluator), then waits for five frames
published after the kill. Per kill: seconds to the next published frame and to the first published
frame captured after the kill (what a restarted ingest read anew), whether the next frame carried
``state_reset``, whether the publisher's endpoint stayed the same, frames lost (counted in
``dropped``) and the replay's stalls. Then stops the camera for two seconds and times its return:
camera back to the first frame published. A subscriber connected once, at the start, receives
everything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KINDS = {"ingest": "source-replay", "model": "backbone+kernel_tracker+depth_head", "sinks": "sinks"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=2, help="kills per actor kind")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()

    import ray

    from tests.nodes.mjpeg_server import MjpegServer
    from tests.pipeline.conftest import (
        Collector,
        evaluator_node,
        kitti_stream,
        make_config,
        model_nodes,
        publisher_endpoint,
        publisher_node,
    )
    from vkstream.pipeline.config import RayConfig
    from vkstream.pipeline.runtime import Pipeline
    from vkstream.synth import generate_dataset

    data = Path(tempfile.mkdtemp()) / "data"
    generate_dataset(data, layout="kitti-step", sequences=1, frames=8, size=(160, 48), seed=5, progress=False)
    camera = MjpegServer(size=(64, 48), fps=10).start()
    sinks = [{**publisher_node(), "actor": "sinks"}, {**evaluator_node(), "actor": "sinks"}]
    config = make_config("chaos", [*model_nodes(), *sinks])
    ray.init(
        num_cpus=8,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
        **RayConfig().local_init_options(),
    )
    pipeline = Pipeline(config).start()
    endpoint = publisher_endpoint(pipeline)
    collector = Collector(endpoint)
    collector.start()
    time.sleep(0.5)
    pipeline.attach(kitti_stream("replay", data, "0000", speed=0, loop=True, ground_truth=True))
    pipeline.attach(
        {
            "id": "cam",
            "source": {"kind": "url", "url": camera.url, "read_timeout_s": 1.0, "open_timeout_s": 1.0},
            "retry": {"initial_s": 0.2, "max_s": 0.5},
        }
    )
    collector.wait_for(lambda: collector.count("replay") >= 5 and collector.count("cam") >= 3, 180, pipeline)
    kills: list[dict[str, Any]] = []
    try:
        for _ in range(args.kills):
            for kind, actor in KINDS.items():
                handle = ray.get_actor(f"chaos-{actor}")
                stalls = 0 if kind == "ingest" else pipeline.sources()["replay"]["stalls"]
                before = list(collector.results["replay"])
                killed = time.time_ns()
                ray.kill(handle, no_restart=False)

                def after(killed: int = killed) -> list:
                    return [r for r in list(collector.results["replay"]) if r.publish_ns > killed]

                def captured(killed: int = killed) -> list:
                    return [r for r in after(killed) if r.stamp_ns > killed]

                collector.wait_for(lambda after=after: len(after()) >= 5, 180, pipeline)
                collector.wait_for(lambda captured=captured: len(captured()) >= 1, 180, pipeline)
                resumed = after()
                lost = resumed[0].dropped - before[-1].dropped
                kills.append(
                    {
                        "kind": kind,
                        "to_next_frame_s": round((resumed[0].publish_ns - killed) / 1e9, 2),
                        "to_first_new_capture_s": round((captured()[0].publish_ns - killed) / 1e9, 2),
                        "state_reset": resumed[0].state_reset,
                        "same_endpoint": publisher_endpoint(pipeline) == endpoint,
                        "frames_lost_counted": lost,
                        "seq_gap": resumed[0].seq - before[-1].seq - 1,
                        "stalls": pipeline.sources()["replay"]["stalls"] - stalls,
                    }
                )
                print(json.dumps(kills[-1]), flush=True)
        camera.stop()
        time.sleep(2.0)
        seen = collector.count("cam")
        back = time.time_ns()
        camera.start()
        collector.wait_for(lambda: collector.count("cam") > seen, 60, pipeline)
        camera_s = (collector.results["cam"][seen].publish_ns - back) / 1e9
        stats = pipeline.stats()
    finally:
        pipeline.shutdown()
        collector.close()
        camera.stop()
    results = collector.results["replay"]
    figures = {
        "kills": kills,
        "median_s": {
            kind: {
                key: statistics.median(k[key] for k in kills if k["kind"] == kind)
                for key in ("to_next_frame_s", "to_first_new_capture_s")
            }
            for kind in KINDS
        },
        "camera_back_to_first_frame_s": round(camera_s, 2),
        "replay": {
            "published": len(results),
            "last_seq": results[-1].seq,
            "dropped_counted": results[-1].dropped,
            "unexplained_gaps": collector.subscriber.stats.lost.get("replay", 0),
            "evaluated_frames": stats["reports"]["evaluator"]["evaluation"]["frames"],
        },
    }
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()

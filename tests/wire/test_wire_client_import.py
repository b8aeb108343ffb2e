"""A planner can use the client without torch, Ray, numba or the synthetic world being imported."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "ray", "numba", "vkstream.synth", "vkstream.data", "vkstream.nodes", "cv2", "pydantic")

SCRIPT = f"""
import sys
import numpy as np
import vkstream.client as client
from vkstream.client import Segment, StreamResult, decode_message, encode_message

segment = Segment(0, 0, False, 0, 1.0, 20, (0, 0, 5, 4), 1.0, None)
panoptic, depth = np.zeros((4, 5), np.uint32), np.ones((4, 5), np.float16)
latency = {{"total": 1.0}}
result = StreamResult("cam", 0, 1, 2, ("road", "car"), panoptic, depth, (segment,), latency, 0, False)
for codec in ("raw", "zstd", "lz4"):
    back = decode_message(encode_message(result, codec))
    assert back.segments == result.segments and np.array_equal(back.depth, result.depth)
loaded = sorted(m for m in {HEAVY!r} if m in sys.modules)
print("loaded:", loaded)
sys.exit(1 if loaded else 0)
"""


def test_the_client_imports_and_decodes_without_heavy_packages() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr

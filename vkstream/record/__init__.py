"""Results for Foxglove: MCAP recordings and a live WebSocket server, for the pipeline and subscribers.

Builds on :mod:`vkstream.client`, :mod:`vkstream.data` and :mod:`vkstream.viz` (numpy, OpenCV and the
Foxglove SDK; never torch or Ray), so the same code runs as a node of the graph or beside a planner
that subscribes. :mod:`.channels` turns results into Foxglove messages; :mod:`.mcap` and :mod:`.live`
are where they go, :mod:`.output` both at once.
"""

from vkstream.record.channels import DEPTH_MM_MAX, IMAGE_TOPICS, ResultChannels, depth_mm, topics
from vkstream.record.live import DEFAULT_PORT, LiveAddress, start_live_server
from vkstream.record.mcap import open_recording
from vkstream.record.output import FoxgloveOutput, parse_intrinsics

__all__ = [
    "DEFAULT_PORT",
    "DEPTH_MM_MAX",
    "IMAGE_TOPICS",
    "FoxgloveOutput",
    "LiveAddress",
    "ResultChannels",
    "depth_mm",
    "open_recording",
    "parse_intrinsics",
    "start_live_server",
    "topics",
]

"""The streaming runtime (graph, actor placement, batching, backpressure, telemetry); model-agnostic.

Empty in this release.
"""

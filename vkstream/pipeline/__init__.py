"""The streaming runtime: the graph of nodes as Ray actors, batching, backpressure, telemetry, control.

Model-agnostic: nodes are loaded by import path inside their actors (``vkstream.pipeline.node``).
Start with :class:`vkstream.pipeline.runtime.Pipeline` and :class:`vkstream.pipeline.config.PipelineConfig`.
"""

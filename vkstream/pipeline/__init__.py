"""The streaming runtime: the graph of nodes as Ray actors, batching, backpressure, telemetry, control.

Model-agnostic: nodes come from the registry by name and are built inside their actors; the runtime
only reads their declared ports. Start with :class:`vkstream.pipeline.runtime.Pipeline` and
:class:`vkstream.pipeline.config.PipelineConfig`.
"""

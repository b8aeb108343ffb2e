"""The graph's nodes: thin adapters from models and I/O to the packets they pass on.

``node`` (what a node is: ports, options, packets), ``registry`` (short names of nodes, sources and
config schemas), ``sources`` (camera ingest), ``model_nodes`` (backbone, kernel tracker, depth head,
with ``model_spec``, the pipeline's model block), the sinks ``publish_node`` (with ``publisher``,
results over ZeroMQ), ``evaluate_node`` (online scores) and ``record_node`` (MCAP files).
"""

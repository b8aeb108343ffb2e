"""The streaming graph's nodes: thin adapters from models and I/O to the packets they pass on.

``sources`` (camera ingest), ``model_nodes`` (backbone, kernel tracker, depth head),
``publish_node`` and ``publisher`` (results over ZeroMQ), ``packet`` (the message between them).
"""

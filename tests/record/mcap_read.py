"""Read an MCAP file back with the ``mcap`` reader: every message decoded by its own schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from mcap.reader import make_reader


@dataclass
class Message:
    topic: str
    schema: str
    log_time: int
    value: Any
    """A protobuf message (Foxglove schemas) or a dict (JSON channels)."""


def read_mcap(path: Path) -> list[Message]:
    classes: dict[int, Any] = {}
    out = []
    with path.open("rb") as f:
        for schema, channel, message in make_reader(f).iter_messages():
            if channel.message_encoding == "json":
                value = json.loads(message.data)
            else:
                if schema.id not in classes:
                    pool = descriptor_pool.DescriptorPool()
                    for file in descriptor_pb2.FileDescriptorSet.FromString(schema.data).file:
                        pool.Add(file)
                    classes[schema.id] = message_factory.GetMessageClass(
                        pool.FindMessageTypeByName(schema.name)
                    )
                value = classes[schema.id].FromString(message.data)
            out.append(Message(channel.topic, schema.name, message.log_time, value))
    return out

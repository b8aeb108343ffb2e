"""Named config schemas that ``vkstream config`` can show and check.

Schemas are recorded as ``"module:Class"`` strings and imported on first use, so listing them (for
``--help`` and argument choices) does not import the heavy modules that define them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel

_SCHEMAS: dict[str, str] = {
    "synth": "vkstream.synth:SynthConfig",
    "publisher": "vkstream.nodes.publisher:PublisherConfig",
    "train": "vkstream.train:TrainConfig",
    "pipeline": "vkstream.pipeline.config:PipelineConfig",
}


def register_schema(name: str, target: str) -> None:
    """Make the pydantic model at ``target`` (``"package.module:Class"``) available as ``name``."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"schema target must look like 'package.module:Class', got {target!r}")
    _SCHEMAS[name] = target


def schema_names() -> tuple[str, ...]:
    """Registered schema names, sorted, without importing any of them."""
    return tuple(sorted(_SCHEMAS))


def resolve_schema(name: str) -> type[BaseModel]:
    """Import and return the model registered as ``name``."""
    from pydantic import BaseModel

    try:
        target = _SCHEMAS[name]
    except KeyError:
        raise ValueError(
            f"unknown config schema '{name}' (choose from {', '.join(schema_names())})"
        ) from None
    module_name, _, attr = target.partition(":")
    model = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"config schema '{name}' ({target}) is not a pydantic model")
    return model

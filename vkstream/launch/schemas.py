"""The config schemas ``vkstream config`` shows and checks, all from the registry.

Whole configs (``pipeline``, ``synth``, ``train``, and packages' ``vkstream.configs`` entry points),
every node type's options (``publisher``, ``evaluator``, ...) and every source's (``source:kitti``).
Names are listed without importing the modules that define them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vkstream.nodes import registry

if TYPE_CHECKING:
    from pydantic import BaseModel

SOURCE = "source:"


def schema_names() -> tuple[str, ...]:
    nodes = [n for n in registry.names("node") if n not in registry.entries("config")]
    return (*registry.names("config"), *nodes, *(SOURCE + k for k in registry.names("source")))


def resolve_schema(name: str) -> type[BaseModel]:
    """The pydantic model of ``name``; ValueError naming the choices for an unknown one."""
    if name not in schema_names():
        raise ValueError(f"unknown config schema '{name}' (choose from {', '.join(schema_names())})")
    if name.startswith(SOURCE):
        from vkstream.nodes.sources import source_class

        return source_class(name.removeprefix(SOURCE)).Spec
    if name in registry.entries("config"):
        return registry.load("config", name)
    return registry.load("node", name).Options

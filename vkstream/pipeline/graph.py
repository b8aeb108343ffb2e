"""The graph of a pipeline config: each node's class and options, and what feeds each of its inputs.

Built (and so checked) before anything starts: an unknown node type, a bad option, a port that does
not exist, an input fed a payload of another type, an input nobody feeds, or a model node without a
model block is one ``GraphError`` line naming the node and the option or port. Nodes are listed in the
config after the nodes that feed them; fan-out (one output to many inputs) and fan-in are ordinary.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError

from vkstream.nodes import registry
from vkstream.nodes.node import INGEST, INGEST_OUTPUTS, Node, Port

if TYPE_CHECKING:
    from vkstream.pipeline.config import NodeSpec, PipelineConfig


class GraphError(ValueError):
    """A graph that cannot run; the message is one line naming the node and what is wrong."""


@dataclass(frozen=True)
class GraphNode:
    spec: NodeSpec
    cls: type[Node]
    options: BaseModel
    wiring: Mapping[str, str]
    """Input port -> ``producer.port`` that feeds it (optional inputs nobody feeds are left out)."""

    @property
    def name(self) -> str:
        return self.spec.name


def build_graph(config: PipelineConfig) -> tuple[GraphNode, ...]:
    outputs: dict[str, Mapping[str, Port]] = {INGEST: INGEST_OUTPUTS}
    graph: list[GraphNode] = []
    for i, spec in enumerate(config.nodes):
        try:
            graph.append(_node(spec, config, outputs, later={n.name for n in config.nodes[i + 1 :]}))
        except GraphError as exc:
            raise GraphError(f"nodes[{i}] ({spec.name}): {exc}") from None
        outputs[spec.name] = graph[-1].cls.outputs
    return tuple(graph)


def _node(
    spec: NodeSpec, config: PipelineConfig, outputs: dict[str, Mapping[str, Port]], later: set[str]
) -> GraphNode:
    if spec.name == INGEST:
        raise GraphError(f"'{INGEST}' names the streams' ingest; call the node otherwise")
    try:
        cls = registry.load("node", spec.type)
    except ValueError as exc:
        raise GraphError(str(exc)) from None
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise GraphError(f"node type {spec.type!r} is not a vkstream.nodes.node.Node")
    try:
        options = cls.Options.model_validate(spec.options)
    except ValidationError as err:
        raise GraphError(_option_error(err, cls.Options)) from None
    if cls.uses_model and config.model is None:
        raise GraphError(f"{spec.type} computes with the model: add a 'model:' block")
    inputs, wired = cls.inputs, {}
    if spec.inputs is None:  # each input from the nearest earlier node that has an output of its name
        for port, want in inputs.items():
            found = next((p for p in reversed(outputs) if port in outputs[p]), None)
            if found is not None:
                _connect(wired, port, want, f"{found}.{port}", outputs)
            elif not want.optional:
                raise GraphError(f"no earlier node has an output {port!r} for its input: name it in inputs")
    else:
        pairs = spec.inputs.items() if isinstance(spec.inputs, dict) else [(None, ref) for ref in spec.inputs]
        for port, ref in pairs:
            producer, _, name = ref.partition(".")
            if producer not in outputs:
                why = (
                    "comes later in the list: list nodes after those feeding them"
                    if producer in later
                    else "is unknown"
                )
                raise GraphError(f"input {ref!r}: node {producer!r} {why}")
            if name and name not in outputs[producer]:
                known = ", ".join(outputs[producer]) or "none"
                raise GraphError(
                    f"input {ref!r}: node {producer!r} has no output {name!r} (outputs: {known})"
                )
            if port is not None:
                if port not in inputs:
                    raise GraphError(f"has no input {port!r} (inputs: {', '.join(inputs)})")
                _connect(wired, port, inputs[port], ref if name else f"{producer}.{port}", outputs)
                continue
            for out in [name] if name else [o for o in outputs[producer] if o in inputs]:
                _connect(
                    wired,
                    _target(inputs, wired, out, outputs[producer][out], ref),
                    None,
                    f"{producer}.{out}",
                    outputs,
                )
            if not name and not any(v.startswith(producer + ".") for v in wired.values()):
                raise GraphError(f"input {ref!r}: none of its outputs is an input of {spec.type}")
        missing = [port for port, want in inputs.items() if port not in wired and not want.optional]
        if missing:
            raise GraphError(f"input {missing[0]!r} is not wired (inputs: {', '.join(inputs)})")
    if not wired:
        raise GraphError("nothing feeds it; a node needs at least one input")
    return GraphNode(spec, cls, options, wired)


def _target(inputs: Mapping[str, Port], wired: dict[str, str], name: str, port: Port, ref: str) -> str:
    """The input an output of this name feeds, else the one unwired input of its type."""
    if name in inputs:
        return name
    fits = [n for n, want in inputs.items() if want.type == port.type and n not in wired]
    if len(fits) != 1:
        listed = ", ".join(f"{n}: {p.type}" for n, p in inputs.items())
        raise GraphError(f"input {ref!r} ({port.type}) fits {len(fits) or 'none'} of its inputs ({listed})")
    return fits[0]


def _connect(
    wired: dict[str, str], port: str, want: Port | None, ref: str, outputs: dict[str, Mapping[str, Port]]
) -> None:
    producer, _, name = ref.partition(".")
    if name not in outputs[producer]:
        raise GraphError(f"input {port!r}: node {producer!r} has no output {name!r}")
    given = outputs[producer][name].type
    if want is not None and given != want.type:
        raise GraphError(f"input {port!r} takes {want.type}, {ref} gives {given}")
    if port in wired:
        raise GraphError(f"input {port!r} is fed twice ({wired[port]} and {ref})")
    wired[port] = ref


def _option_error(err: ValidationError, options: type[BaseModel]) -> str:
    first = err.errors(include_url=False)[0]
    key = ".".join(str(part) for part in first.get("loc", ()))
    if first.get("type") == "extra_forbidden":
        close = difflib.get_close_matches(key, list(options.model_fields), n=1, cutoff=0.6)
        return f"unknown option {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if first.get("type") == "missing":
        return f"missing option {key!r}"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"option {key!r}: {message}" if key else message

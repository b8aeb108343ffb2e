"""Imports point downward only: launch -> pipeline -> nodes -> models, with data and synth beneath all;
wire (the producer's side of the wire format) and record (MCAP files) need neither Ray nor torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "vkstream"

_ABOVE_DATA = {
    "ray",
    "zmq",
    "torch",
    "vkstream.models",
    "vkstream.nodes",
    "vkstream.pipeline",
    "vkstream.launch",
}
_RUNTIME = {"ray", "torch", "vkstream.models", "vkstream.nodes", "vkstream.pipeline", "vkstream.launch"}
FORBIDDEN = {
    "models": {
        "ray",
        "zmq",
        "vkstream.nodes",
        "vkstream.pipeline",
        "vkstream.launch",
        "vkstream.train",
        "vkstream.wire",
        "vkstream.record",
    },
    "train": {"ray", "zmq", "vkstream.nodes", "vkstream.pipeline", "vkstream.launch", "vkstream.record"},
    "nodes": {"vkstream.pipeline", "vkstream.launch", "vkstream.bench"},
    "pipeline": {"vkstream.launch", "vkstream.models", "vkstream.client"},
    "wire": _RUNTIME | {"zmq", "vkstream.train", "vkstream.eval", "vkstream.synth", "vkstream.record"},
    "record": _RUNTIME | {"zmq", "vkstream.train", "vkstream.eval", "vkstream.synth", "vkstream.wire"},
    "bench": {"vkstream.launch"},
    "data": _ABOVE_DATA | {"vkstream.synth"},
    "eval": _ABOVE_DATA | {"vkstream.synth"},
    "synth": _ABOVE_DATA,
    "client": (_ABOVE_DATA - {"zmq"})
    | {
        "numba",
        "vkstream.data",
        "vkstream.synth",
        "vkstream.train",
        "vkstream.eval",
        "vkstream.wire",
        "vkstream.record",
        "vkstream.viz",
    },
    "viz": {
        "ray",
        "torch",
        "vkstream.models",
        "vkstream.nodes",
        "vkstream.pipeline",
        "vkstream.launch",
        "vkstream.train",
        "vkstream.synth",
        "vkstream.eval",
    },
}


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violates(module: str, forbidden: set[str]) -> bool:
    return any(module == f or module.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("subpackage", sorted(FORBIDDEN))
def test_subpackage_imports_point_downward(subpackage: str) -> None:
    folder = PACKAGE / subpackage
    assert (folder / "__init__.py").is_file(), f"vkstream.{subpackage} is not a package"
    bad = [
        f"{path.relative_to(PACKAGE.parent)} imports {module}"
        for path in sorted(folder.rglob("*.py"))
        for module in sorted(imported_modules(path))
        if violates(module, FORBIDDEN[subpackage])
    ]
    assert not bad, "\n".join(bad)


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    source = tmp_path / "bad.py"
    source.write_text("import ray\nfrom vkstream.launch.cli import main\n")
    found = imported_modules(source)
    assert violates("vkstream.launch.cli", FORBIDDEN["models"]) and "ray" in found

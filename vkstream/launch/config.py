"""YAML configuration files validated by pydantic models.

Every problem with a config file is reported as a ``ConfigError`` whose message is a single line naming
the file and the offending key, so the command line can print it as-is instead of a traceback.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_MAX_SHOWN_INPUT = 60
# Pydantic prefixes messages of errors raised inside validators; the prefix tells the user nothing.
_VALIDATOR_PREFIXES = ("Value error, ", "Assertion failed, ")


class ConfigError(Exception):
    """A config file is missing, malformed or does not match its schema; the message is one line."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects repeated keys, which plain YAML silently resolves to the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path, model: type[M]) -> M:
    """Read the YAML mapping at ``path`` and validate it against ``model``.

    Keys left out keep the model's defaults, and an empty file means all defaults. Models should set
    ``model_config = ConfigDict(extra="forbid")`` so that a misspelt key is an error, not silently ignored.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    if not path.is_file():
        raise ConfigError(f"config path is not a file: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (bad byte at offset {err.start})") from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from err
    data = _parse_yaml(text, path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys to values, not {_yaml_kind(data)}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, str(path), model=model)) from err


def format_validation_error(err: ValidationError, source: str, model: type[BaseModel] | None = None) -> str:
    """Condense a pydantic error into one line: ``SOURCE: dotted.key: message (got value)``.

    Only the first error is spelled out, with a count of the rest, because fixing the first one often
    resolves the others. Given the ``model``, a misspelt key comes with the closest valid key.
    """
    errors = err.errors(include_url=False)
    if not errors:
        return f"{source}: {_one_line(str(err))}"
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    key = _dotted(loc)
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        message = f"{source}: unknown key '{key}'"
        hint = _closest_key(model, loc) if model is not None else None
        if hint is not None:
            message += f" (did you mean '{hint}'?)"
    elif kind == "missing":
        message = f"{source}: missing required key '{key}'"
    else:
        text = str(first.get("msg", "invalid value"))
        for prefix in _VALIDATOR_PREFIXES:
            text = text.removeprefix(prefix)
        where = f"{key}: " if key else ""
        message = f"{source}: {where}{text}"
        # Validators written for these models often quote the value themselves.
        if loc and "input" in first and "(got " not in text:
            message += f" (got {_short_repr(first['input'])})"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return _one_line(message)


def dump_config(model: BaseModel) -> str:
    """Render ``model`` as YAML that ``load_config`` accepts back, listing every key with its value.

    Field descriptions become comments above their keys, which makes the output a self-documenting
    starting point for a new config file.
    """
    lines = _dump_model(model, indent="")
    return "\n".join(lines) + "\n" if lines else "{}\n"


def _parse_yaml(text: str, path: Path) -> Any:
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: builds plain data only
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = err.problem or err.context or "invalid YAML"
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown line"
        raise ConfigError(_one_line(f"{path}: invalid YAML at {where}: {what}")) from err
    except yaml.YAMLError as err:
        raise ConfigError(_one_line(f"{path}: invalid YAML: {err}")) from err


def _yaml_kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__} value"


def _dotted(loc: tuple[Any, ...]) -> str:
    """``("cameras", 0, "fx")`` -> ``cameras[0].fx``: the way the key is found in the YAML file."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _closest_key(model: type[BaseModel], loc: tuple[Any, ...]) -> str | None:
    """Suggest the valid key nearest to the unknown last element of ``loc``, following nested models."""
    current: type[BaseModel] = model
    for part in loc[:-1]:
        field = current.model_fields.get(part) if isinstance(part, str) else None
        nested = _nested_model(field.annotation) if field is not None else None
        if nested is None:
            return None
        current = nested
    if not loc or not isinstance(loc[-1], str):
        return None
    keys = [field.alias or name for name, field in current.model_fields.items()]
    matches = difflib.get_close_matches(loc[-1], keys, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model class behind ``Sub`` or ``Sub | None``; ``None`` for anything else."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return _nested_model(members[0])
    return None


def _short_repr(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_SHOWN_INPUT:
        text = text[: _MAX_SHOWN_INPUT - 3] + "..."
    return text


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()


def _dump_model(model: BaseModel, indent: str) -> list[str]:
    lines: list[str] = []
    data = model.model_dump(mode="json", by_alias=True)
    for name, field in type(model).model_fields.items():
        key = field.alias or name
        if key not in data:
            continue
        value = getattr(model, name)
        section = isinstance(value, BaseModel) and bool(type(value).model_fields)
        if section and not indent and lines:
            lines.append("")  # top-level sections stand apart
        if field.description:
            lines.extend(f"{indent}# {line}".rstrip() for line in field.description.strip().splitlines())
        if section:
            lines.append(f"{indent}{_yaml_key(key)}:")
            lines.extend(_dump_model(value, indent + "  "))
        else:
            # Lists of plain values stay on one line ("[6.0, 12.0]"); nested structures use blocks.
            flow = None if isinstance(data[key], (list, dict)) else False
            block = yaml.safe_dump({key: data[key]}, sort_keys=False, default_flow_style=flow, width=100)
            lines.extend(indent + line for line in block.rstrip("\n").splitlines())
    return lines


def _yaml_key(key: str) -> str:
    """The key as YAML writes it, quoted only where a bare key would be read differently."""
    return yaml.safe_dump({key: None}, default_flow_style=False).rstrip("\n").removesuffix(": null")

"""``vkstream config``: show the effective settings of a config schema, or check a file against it."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.commands import add_command
from vkstream.launch.schemas import schema_names

_EPILOG = """\
examples:
  vkstream config show synth                          # every key with its default
  vkstream config show synth configs/synth/city.yaml  # defaults merged with a file
  vkstream config check synth configs/synth/city.yaml
"""

_SHOW_EPILOG = """\
examples:
  vkstream config show synth > my-world.yaml
  vkstream config show synth configs/synth/city.yaml

The output is itself a valid config file: keys are commented with what they mean.
"""

_CHECK_EPILOG = """\
example:
  vkstream config check synth configs/synth/city.yaml && echo valid

Prints 'ok: YAML' and exits 0, or prints the first problem and exits 2.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "config",
        summary="show or check config files",
        description=(
            "Config files are YAML mappings validated against a schema; keys left out keep their "
            f"defaults. Schemas: {', '.join(schema_names())}."
        ),
        epilog=_EPILOG,
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    show = add_command(
        actions,
        "show",
        summary="print the effective config as YAML",
        description=(
            "Print every key of SCHEMA with its value: the defaults, overridden by YAML when given. "
            "This is the reference of what a config file may contain."
        ),
        epilog=_SHOW_EPILOG,
    )
    show.add_argument("schema", metavar="SCHEMA", choices=schema_names(), help=_schema_help())
    show.add_argument("yaml", metavar="YAML", nargs="?", type=Path, help="config file to apply")
    show.set_defaults(handler=run_show)

    check = add_command(
        actions,
        "check",
        summary="validate a config file",
        description="Validate YAML against SCHEMA: unknown keys, wrong types and out-of-range values.",
        epilog=_CHECK_EPILOG,
    )
    check.add_argument("schema", metavar="SCHEMA", choices=schema_names(), help=_schema_help())
    check.add_argument("yaml", metavar="YAML", type=Path, help="config file to validate")
    check.set_defaults(handler=run_check)


def _schema_help() -> str:
    return f"config schema, one of: {', '.join(schema_names())}"


def run_show(args: argparse.Namespace) -> int:
    from vkstream.launch.config import dump_config, load_config
    from vkstream.launch.schemas import resolve_schema

    model = resolve_schema(args.schema)
    config = load_config(args.yaml, model) if args.yaml is not None else model()
    print(dump_config(config), end="")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from vkstream.launch.config import load_config
    from vkstream.launch.schemas import resolve_schema

    load_config(args.yaml, resolve_schema(args.schema))
    print(f"ok: {args.yaml}")
    return 0

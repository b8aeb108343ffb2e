"""Subcommands of ``vkstream``, one module each, and the parser plumbing they share.

Every command module exposes ``register(subparsers)``, which adds its parser via ``add_command`` and
sets ``handler`` to a function taking the parsed arguments and returning the exit code. Command
modules import their heavy dependencies inside the handler so that ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from typing import NoReturn

EXIT_USAGE = 2


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``PROG: error: MESSAGE``, like every other error.

    The stock parser prints the whole usage block first; pointing at ``--help`` keeps the message
    short while still telling the user where to look.
    """

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.HelpFormatter):
    """Wraps prose paragraphs of descriptions and epilogs but keeps indented blocks (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = textwrap.dedent(text).strip("\n").split("\n\n")
        out = []
        for paragraph in paragraphs:
            if any(line.startswith(" ") for line in paragraph.splitlines()):
                out.append(textwrap.indent(paragraph, indent))
            else:
                out.append(
                    textwrap.fill(
                        " ".join(paragraph.split()), width, initial_indent=indent, subsequent_indent=indent
                    )
                )
        return "\n\n".join(out)


def add_verbosity_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """Add ``-v/--verbose`` and ``-q/--quiet``.

    Below the top level they default to SUPPRESS, so that ``vkstream -v synth ...`` is not undone by
    the subcommand's own default while ``vkstream synth ... -v`` works too.
    """
    default = logging.INFO if top_level else argparse.SUPPRESS
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const=logging.DEBUG,
        default=default,
        help="log debug details",
    )
    group.add_argument(
        "-q",
        "--quiet",
        dest="log_level",
        action="store_const",
        const=logging.WARNING,
        default=default,
        help="log warnings and errors only",
    )


def add_command(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    *,
    summary: str,
    description: str,
    epilog: str,
) -> argparse.ArgumentParser:
    """Add a subcommand parser with the shared options; ``summary`` is its line in the parent's help."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog,
        formatter_class=HelpFormatter,
    )
    add_verbosity_options(parser, top_level=False)
    parser.set_defaults(command=parser.prog)
    return parser


def show_progress(args: argparse.Namespace, disabled: bool = False) -> bool:
    """Progress bars only for an interactive, non-quiet run that did not ask to go without."""
    return not disabled and args.log_level <= logging.INFO and sys.stderr.isatty()

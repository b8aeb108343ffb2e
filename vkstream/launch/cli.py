"""The ``vkstream`` console script: one entry point with a subcommand per task.

Errors the user can fix end in one line, ``vkstream CMD: error: MESSAGE``, and exit code 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from vkstream import __version__
from vkstream.launch.commands import EXIT_USAGE, CommandParser, HelpFormatter, add_verbosity_options
from vkstream.launch.commands import bench as bench_command
from vkstream.launch.commands import config as config_command
from vkstream.launch.commands import ctl as ctl_command
from vkstream.launch.commands import demo as demo_command
from vkstream.launch.commands import eval as eval_command
from vkstream.launch.commands import export as export_command
from vkstream.launch.commands import keys as keys_command
from vkstream.launch.commands import listen as listen_command
from vkstream.launch.commands import predict as predict_command
from vkstream.launch.commands import preview as preview_command
from vkstream.launch.commands import run as run_command
from vkstream.launch.commands import scan as scan_command
from vkstream.launch.commands import synth as synth_command
from vkstream.launch.commands import train as train_command
from vkstream.launch.errors import expected_error_message
from vkstream.launch.logs import console_logging

PROG = "vkstream"
EXIT_INTERRUPTED = 130
COMMANDS = (
    demo_command,
    run_command,
    ctl_command,
    synth_command,
    scan_command,
    preview_command,
    train_command,
    predict_command,
    export_command,
    eval_command,
    config_command,
    listen_command,
    keys_command,
    bench_command,
)
"""Command modules, in the order ``--help`` lists them."""

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog=PROG,
        description="Real-time depth-aware video panoptic segmentation for robots and cars.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options and examples.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    add_verbosity_options(parser, top_level=True)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line on ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors; argparse has printed them
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    with console_logging(args.log_level):
        try:
            return int(args.handler(args))
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED
        except Exception as exc:
            message = expected_error_message(exc)
            if message is None:
                raise
            log.debug("details of the error below", exc_info=True)
            print(f"{args.command}: error: {message}", file=sys.stderr)
            return EXIT_USAGE

"""The options that serve results to Foxglove live (``listen``, ``demo``), parsed by
``vkstream.record.LiveAddress.from_option``."""

from __future__ import annotations

import argparse

DEFAULT_ADDRESS = "127.0.0.1:8765"


def add_foxglove_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--foxglove",
        nargs="?",
        const=DEFAULT_ADDRESS,
        metavar="HOST:PORT",
        help=f"serve the results to Foxglove over its WebSocket protocol (default: {DEFAULT_ADDRESS})",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --foxglove bind an address other machines can reach (anyone there sees every stream)",
    )

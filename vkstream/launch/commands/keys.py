"""``vkstream keys``: create CURVE key pairs for an encrypted, authenticated publisher."""

from __future__ import annotations

import argparse
from pathlib import Path

from vkstream.launch.commands import add_command

_EPILOG = """\
examples:
  vkstream keys keys/
  vkstream keys /etc/vkstream/keys --clients planner logger

Writes server.key (public) and server.key_secret, NAME.key and NAME.key_secret for each client,
and authorized_clients/NAME.key, the folder of client public keys the publisher admits. Give each
client its NAME.key_secret and server.key; keep server.key_secret on the publisher's machine.
Existing key files are never overwritten.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "keys",
        summary="create CURVE key pairs for the publisher and its clients",
        description=(
            "Generate ZeroMQ CURVE key pairs (Z85 text files in zmq.auth's certificate format) for "
            "the result publisher and its subscribers, so that results are encrypted and only "
            "clients whose public key is in authorized_clients/ receive them."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("out", metavar="DIR", type=Path, help="folder for the key files (created if missing)")
    parser.add_argument(
        "--clients",
        nargs="+",
        default=["client"],
        metavar="NAME",
        help="client key pairs to create (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vkstream.client.curve import AUTHORIZED_DIR, create_keys
    from vkstream.client.message import check_name

    for name in args.clients:
        check_name(name, "client name")
        if "/" in name:
            raise ValueError(f"invalid client name {name!r}: no '/' in key file names")
    files = create_keys(args.out, tuple(args.clients))
    for name, pair in files.items():
        print(f"{name:12s} public {pair.public}   secret {pair.secret}")
    print(f"admitted clients: {args.out / AUTHORIZED_DIR}")
    return 0

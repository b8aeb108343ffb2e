"""CURVE on a server socket (the publisher's XPUB, the control endpoint's REP): its keys, whom it admits.

Keys are the files of ``vkstream keys`` (:mod:`vkstream.client.curve`). ZeroMQ's ZAP authenticator
(``zmq.auth``) runs on a thread of the socket's context and admits the clients whose public key lies in
the ``authorized_clients`` folder, or any client that knows the server's public key when there is none.
A client without the right keys completes no handshake: it can neither read nor send anything.
"""

from __future__ import annotations

import logging
from pathlib import Path

import zmq
import zmq.auth
from pydantic import BaseModel, ConfigDict, Field
from zmq.auth.thread import ThreadAuthenticator

from vkstream.client.curve import load_key_pair

log = logging.getLogger(__name__)


class CurveServerConfig(BaseModel):
    """CURVE for a server socket: its key pair, and which clients it admits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_key_file: Path = Field(description="the server's '.key_secret' file from 'vkstream keys'")
    authorized_clients: Path | None = Field(
        default=None,
        description="folder of admitted clients' public '.key' files; null admits any client that "
        "holds the server's public key",
    )


def secure_server(socket: zmq.Socket, context: zmq.Context, config: CurveServerConfig) -> ThreadAuthenticator:
    """Make ``socket`` (not yet bound) a CURVE server; returns the started authenticator to stop later.

    Raises ValueError in one line for a missing or bad key file or a missing clients folder.
    """
    public, secret = load_key_pair(config.secret_key_file)
    clients = config.authorized_clients
    if clients is not None and not clients.is_dir():
        raise ValueError(f"authorized_clients folder {clients} not found")
    auth = ThreadAuthenticator(context, log=log.getChild("auth"))
    auth.start()
    auth.configure_curve(domain="*", location=zmq.auth.CURVE_ALLOW_ANY if clients is None else str(clients))
    socket.curve_secretkey = secret
    socket.curve_publickey = public
    socket.curve_server = True
    return auth

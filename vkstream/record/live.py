"""Serve results live over Foxglove's WebSocket protocol, so Foxglove connects to a running pipeline.

The same topics and messages as a recording (:mod:`.channels`), through the Foxglove SDK's server
(WebSocket subprotocol ``foxglove.sdk.v1``). It binds loopback unless a remote bind is explicitly
allowed, as the publisher does: anyone who can reach the port sees every camera.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

import foxglove

from vkstream.record.channels import ResultChannels

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
"""Foxglove's own default for WebSocket connections."""
BACKLOG = 64
"""Messages queued per client before its oldest are dropped: a slow viewer sees fresh frames, late."""
_LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


@dataclass(frozen=True)
class LiveAddress:
    """Where the server listens; port 0 takes a free one."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, text: str) -> LiveAddress:
        """``HOST:PORT``, ``[IPv6]:PORT`` or a bare ``PORT`` (on 127.0.0.1)."""
        host, colon, port = text.strip().rpartition(":")
        host = host.strip("[]") if colon else "127.0.0.1"
        if not host or not port.isdigit() or not 0 <= int(port) < 65536 or any(c in host for c in "/ "):
            raise ValueError(f"invalid Foxglove address {text!r}: expected HOST:PORT such as 127.0.0.1:8765")
        return cls(host, int(port))

    @classmethod
    def from_option(cls, text: str | None, allow_remote: bool = False) -> LiveAddress | None:
        """A ``--foxglove [HOST:PORT]`` option's address (None without it), refusing ``allow_remote``
        on its own: it would otherwise be silently ignored."""
        if text is None:
            if allow_remote:
                raise ValueError("--allow-remote applies to --foxglove, which is not given")
            return None
        return cls.parse(text)

    @property
    def loopback(self) -> bool:
        if self.host.lower() in _LOOPBACK_NAMES:
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def start_live_server(
    address: LiveAddress, channels: ResultChannels, *, allow_remote: bool = False
) -> foxglove.WebSocketServer:
    """A WebSocket server for ``channels``' context; ValueError when refused or it cannot bind."""
    if not address.loopback:
        if not allow_remote:
            raise ValueError(
                f"Foxglove address {address} would accept connections from other machines; bind "
                "127.0.0.1, or allow remote viewers explicitly (--allow-remote) to serve beyond this host"
            )
        log.warning("serving Foxglove on %s: anyone who can reach it sees every stream", address)
    try:
        return foxglove.start_server(
            name="vkstream",
            host=address.host,
            port=address.port,
            context=channels.context,
            message_backlog_size=BACKLOG,
        )
    except (RuntimeError, OverflowError) as exc:
        reason = str(exc).removeprefix("FoxgloveError: ")
        raise ValueError(f"cannot serve Foxglove on {address}: {reason}") from None

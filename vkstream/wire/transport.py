"""Where results are published: an endpoint a publisher binds, loopback unless explicitly allowed.

The wire format's transport rule (docs/wire-format.md): binding any non-loopback address is refused
unless allowed, so a robot never exposes its perception by accident. The control endpoint follows it.
"""

from __future__ import annotations

import ipaddress

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5560"
_LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def check_endpoint(endpoint: str, allow_remote: bool) -> None:
    """Raise ValueError for a malformed endpoint, or a non-loopback TCP bind not explicitly allowed."""
    scheme, sep, address = endpoint.partition("://")
    if not sep or scheme not in ("tcp", "ipc", "inproc") or not address:
        raise ValueError(f"invalid endpoint {endpoint!r}: expected tcp://HOST:PORT or ipc://PATH")
    if scheme != "tcp":
        return
    host, colon, port = address.rpartition(":")
    if not colon or not host or not (port == "*" or (port.isdigit() and 0 < int(port) < 65536)):
        raise ValueError(f"invalid endpoint {endpoint!r}: expected tcp://HOST:PORT, e.g. {DEFAULT_ENDPOINT}")
    if allow_remote or _is_loopback(host.strip("[]")):
        return
    raise ValueError(
        f"endpoint {endpoint!r} would accept connections from other machines; bind 127.0.0.1, or set "
        "allow_remote (and consider CURVE) to publish beyond this host"
    )


def is_loopback_endpoint(endpoint: str) -> bool:
    """Whether binding ``endpoint`` (a valid one) reaches only this machine: loopback TCP, ipc, inproc."""
    scheme, _, address = endpoint.partition("://")
    return scheme != "tcp" or _is_loopback(address.rpartition(":")[0].strip("[]"))


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # '*', 0.0.0.0 handled above; interface names such as eth0 are not loopback

"""CURVE key files: generation for ``vkstream keys`` and loading for publishers and subscribers.

Files are ZeroMQ's own certificate format (``zmq.auth``), readable by any libzmq binding:
``NAME.key`` holds the public key, ``NAME.key_secret`` both keys and must stay private.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import zmq.auth

SERVER_NAME = "server"
AUTHORIZED_DIR = "authorized_clients"
"""Folder beside the server's keys holding the public key of every client it admits."""


@dataclass(frozen=True)
class KeyPairFiles:
    public: Path
    secret: Path


@dataclass(frozen=True)
class CurveClientKeys:
    """What a subscriber needs for CURVE: its own key pair file and the server's public key file."""

    secret_key_file: Path
    server_public_key_file: Path

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str], name: str = "client") -> CurveClientKeys:
        """The files ``vkstream keys DIR`` wrote for client ``name``."""
        directory = Path(directory)
        return cls(directory / f"{name}.key_secret", directory / f"{SERVER_NAME}.key")

    def load(self) -> tuple[bytes, bytes, bytes]:
        """(client public, client secret, server public) keys, Z85-encoded."""
        public, secret = load_key_pair(self.secret_key_file)
        server_public, _ = load_key(self.server_public_key_file)
        return public, secret, server_public


def load_key(path: str | os.PathLike[str]) -> tuple[bytes, bytes | None]:
    """(public, secret or None) from a key file, with a one-line error for a missing or bad file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"CURVE key file {path} not found (create keys with 'vkstream keys DIR')")
    try:
        public, secret = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"CURVE key file {path} cannot be read: {exc}") from None
    if public is None or len(public) != 40:
        raise ValueError(f"CURVE key file {path} holds no valid public key")
    return public, secret


def load_key_pair(path: str | os.PathLike[str]) -> tuple[bytes, bytes]:
    """(public, secret) from a ``*.key_secret`` file."""
    public, secret = load_key(path)
    if secret is None or len(secret) != 40:
        raise ValueError(f"CURVE key file {path} holds no secret key: pass the '.key_secret' file")
    return public, secret


def create_keys(
    directory: str | os.PathLike[str], clients: tuple[str, ...] = ("client",)
) -> dict[str, KeyPairFiles]:
    """Write a server key pair, one pair per client and the server's ``authorized_clients`` folder.

    Refuses to overwrite existing key files: replacing a key silently locks out every peer using it.
    """
    directory = Path(directory)
    names = (SERVER_NAME, *clients)
    if len(set(names)) != len(names):
        raise ValueError(f"key names must be distinct and not {SERVER_NAME!r}: got {', '.join(clients)}")
    existing = [
        path
        for name in names
        for path in (
            directory / f"{name}.key",
            directory / f"{name}.key_secret",
            directory / AUTHORIZED_DIR / f"{name}.key",
        )
        if path.exists()
    ]
    if existing:
        raise ValueError(f"{existing[0]} already exists; remove it or choose another folder")
    authorized = directory / AUTHORIZED_DIR
    authorized.mkdir(parents=True, exist_ok=True)
    files: dict[str, KeyPairFiles] = {}
    for name in names:
        public, secret = zmq.auth.create_certificates(directory, name)
        os.chmod(secret, 0o600)
        files[name] = KeyPairFiles(Path(public), Path(secret))
        if name != SERVER_NAME:
            shutil.copyfile(public, authorized / f"{name}.key")
    return files

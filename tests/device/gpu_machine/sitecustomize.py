"""Makes this interpreter look like the GPU machine: Ray, ZeroMQ and the wire codecs are not installed."""

import importlib.abc
import sys

MISSING = {"ray", "zmq", "zstandard", "lz4"}


class _NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {name!r} (not on the GPU machine)")
        return None


sys.meta_path.insert(0, _NotInstalled())

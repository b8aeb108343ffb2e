"""The one exception the data layer raises for bad files on disk."""

from __future__ import annotations

import os


class DatasetError(Exception):
    """A dataset file or folder is missing, unreadable or inconsistent.

    The message always starts with the offending path and is a single line, so a CLI can print
    it as is and an operator knows which file to look at.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str = "") -> None:
        self.path = os.fspath(path)
        self.reason = " ".join(reason.split())
        super().__init__(f"{self.path}: {self.reason}" if self.reason else self.path)

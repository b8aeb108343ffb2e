"""Shared by every test folder: the command line run in-process (fast) and as the installed script (real)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from vkstream.launch.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def one_line_error(self, command: str) -> str:
        """The message of a one-line ``vkstream COMMAND: error: ...`` report, checked to be just that."""
        assert self.code == 2, (self.code, self.err)
        assert "Traceback" not in self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        prefix = f"{command}: error: "
        assert lines[0].startswith(prefix), lines[0]
        return lines[0].removeprefix(prefix)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``main(argv)`` and collect its exit code and output."""

    def run(*argv: str | os.PathLike[str]) -> Result:
        code = main([os.fspath(arg) for arg in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def _script() -> Path:
    beside = Path(sys.executable).parent / "vkstream"
    if beside.is_file():
        return beside
    found = shutil.which("vkstream")
    if found is None:
        pytest.skip("the vkstream console script is not installed")
    return Path(found)


@pytest.fixture
def script():
    """Run the installed ``vkstream`` console script in a subprocess."""
    path = _script()

    def run(*argv: str | os.PathLike[str]) -> Result:
        done = subprocess.run(
            [str(path), *map(os.fspath, argv)], capture_output=True, text=True, timeout=120, check=False
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run

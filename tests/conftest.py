"""Shared by every test folder: the command line (in-process and as the installed script), one Ray
for the session, a live MJPEG camera on loopback and tiny synthetic KITTI datasets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.nodes.mjpeg_server import MjpegServer
from vkstream.launch.cli import main
from vkstream.pipeline.config import RayConfig
from vkstream.synth import generate_dataset

DATASET_SIZE = (160, 48)
"""(width, height) of the synthetic datasets' frames."""
DATASET_FRAMES = 4
"""Frames in each of the datasets' two sequences."""


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


REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def one_torch_thread():
    """Tiny tensors gain nothing from more threads, and spinning threads collapse on a busy machine."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole session; its workers can import test-only nodes (tests.*)."""
    import ray

    ray.init(
        num_cpus=8,
        include_dashboard=False,
        namespace="vkstream-tests",
        logging_level="WARNING",
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
        **RayConfig().local_init_options(),
    )
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def make_mjpeg_server() -> Iterator[Callable[..., MjpegServer]]:
    """``make_mjpeg_server(size=(W, H), fps=20)``: a started server, stopped after the test."""
    servers: list[MjpegServer] = []

    def make(size: tuple[int, int] = (64, 48), fps: float = 20.0) -> MjpegServer:
        server = MjpegServer(size=size, fps=fps).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def mjpeg_server(make_mjpeg_server: Callable[..., MjpegServer]) -> MjpegServer:
    """A started 64x48, 20 fps MJPEG server; ``.url`` is its stream."""
    return make_mjpeg_server()


@pytest.fixture(scope="session")
def kitti_datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Layout name -> root of a synthetic dataset: 2 sequences x 4 frames of 160x48, split train."""
    roots = {}
    for layout in ("kitti-step", "semkitti-dvps"):
        root = tmp_path_factory.mktemp(layout)
        generate_dataset(
            root, layout=layout, sequences=2, frames=DATASET_FRAMES, size=DATASET_SIZE, seed=5, progress=False
        )
        roots[layout] = root
    return roots

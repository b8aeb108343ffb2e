"""A stream's ingest on a recording that breaks: it gives up on it instead of replaying it for ever."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vkstream.data import write_png
from vkstream.nodes.sources.base import CapturedFrame
from vkstream.nodes.sources.replay import ImageFolderSource
from vkstream.nodes.sources.specs import ImageFolderSpec
from vkstream.pipeline.config import StreamSpec
from vkstream.pipeline.ingest import IngestRunner


class FailingDisk(ImageFolderSource):
    """A folder of frames on a disk that fails with an I/O error (not a SourceError) at the third frame."""

    def _read(self) -> CapturedFrame | None:
        if self._next == 2:
            raise OSError(5, "Input/output error", str(self._files[2]))
        return super()._read()


def test_a_recording_failing_with_any_error_fails_after_its_attempts(tmp_path: Path) -> None:
    for i in range(4):
        write_png(tmp_path / f"frame{i}.png", np.full((8, 8, 3), 40 * i, np.uint8))
    spec = StreamSpec.model_validate(
        {
            "id": "disk",
            "source": {"kind": "images", "path": str(tmp_path), "speed": 0},
            "retry": {"initial_s": 0.01, "max_s": 0.02, "recorded_attempts": 3},
        }
    )
    pushed = []
    runner = IngestRunner(spec, pushed.extend, source=FailingDisk(ImageFolderSpec(path=tmp_path, speed=0)))
    deadline = time.monotonic() + 20
    while runner.state != "failed":
        # Before: each error reopened the recording from its first frame without counting, for ever.
        assert time.monotonic() < deadline, (runner.status(), len(pushed))
        time.sleep(0.02)
    status = runner.stop()
    assert "Input/output error" in status["last_error"] and status["reconnects"] == 3
    assert [p.seq for p in pushed] == list(range(6))  # frames 0 and 1, three times, numbered on
    assert [p.restart for p in pushed] == [True, False] * 3

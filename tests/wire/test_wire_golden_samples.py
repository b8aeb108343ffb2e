"""The golden samples in docs/wire-samples: what their script writes, byte for byte, and their content."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import msgpack
import pytest
from golden_samples import NAMES, SAMPLES_DIR, SCRIPT, differences, golden, python_description

ROOT = SAMPLES_DIR.parents[1]


def test_the_script_writes_the_checked_in_samples(tmp_path: Path) -> None:
    """Uncompressed samples byte for byte; compressed ones by what they decode to, since another
    release of zstd, lz4 or libpng may pack the same arrays into other bytes."""
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], check=True, capture_output=True, timeout=120)
    written = sorted(path.name for path in tmp_path.iterdir())
    checked_in = sorted(path.name for path in SAMPLES_DIR.iterdir() if path.suffix in (".msgpack", ".json"))
    assert written == checked_in
    stale = []
    for name in NAMES:
        fresh = json.loads((tmp_path / f"{name}.json").read_text())
        if fresh["decoded"]["panoptic"]["codec"] == "raw":
            same = all(
                (tmp_path / f).read_bytes() == (SAMPLES_DIR / f).read_bytes()
                for f in (f"{name}.json", f"{name}.msgpack")
            )
        else:
            same = differences(fresh["decoded"], golden(name)[1]["decoded"]) == []
        if not same:
            stale.append(name)
    assert not stale, (
        f"docs/wire-samples differs from what {SCRIPT.name} writes now: {stale} (encoders: "
        f"{_encoder_versions()}); rewrite them: {SCRIPT.relative_to(ROOT)}"
    )


def _encoder_versions() -> str:
    return ", ".join(f"{name} {version(name)}" for name in ("zstandard", "lz4", "opencv-python-headless"))


@pytest.mark.parametrize("name", NAMES)
def test_the_python_client_decodes_each_sample_to_its_json(name: str) -> None:
    payload, doc = golden(name)
    assert doc["payload_bytes"] == len(payload)
    assert doc["payload_sha256"] == hashlib.sha256(payload).hexdigest()
    assert differences(python_description(doc["topic"], payload), doc["decoded"]) == []


def test_a_changed_pixel_no_longer_matches_the_json() -> None:
    payload, doc = golden("raw")
    message = msgpack.unpackb(payload)
    data = bytearray(message["panoptic"]["data"])
    data[0] ^= 1  # pixel (0, 0): sky, track 0 becomes track 1
    message["panoptic"]["data"] = bytes(data)
    got = python_description(doc["topic"], msgpack.packb(message, use_bin_type=True))
    found = differences(got, doc["decoded"])
    assert [d.split(":")[0] for d in found] == ["$.panoptic.sha256", "$.panoptic.samples[0].value"]
    assert found[1] == "$.panoptic.samples[0].value: 655361 instead of 655360"


def test_the_samples_cover_every_codec_stream_reset_drops_and_intrinsics() -> None:
    docs = {name: golden(name)[1]["decoded"] for name in NAMES}
    assert {doc["panoptic"]["codec"] for doc in docs.values()} == {"raw", "zstd", "lz4", "png"}
    assert all(doc["panoptic"]["codec"] == doc["depth"]["codec"] for doc in docs.values())
    assert all(doc["size"] == [24, 32] for doc in docs.values())
    xyz = {name: [s["xyz"] for s in doc["segments"] if s["depth_m"] > 0] for name, doc in docs.items()}
    assert all(v is None for v in xyz["no-intrinsics"]) and all(v is not None for v in xyz["zstd"])
    assert [name for name, doc in docs.items() if doc["state_reset"]] == ["state-reset"]
    assert [name for name, doc in docs.items() if doc["dropped"]] == ["dropped"]
    assert {s["track"] for s in docs["track-wrap"]["segments"]} == {0, 1, 4465, 65535}
    assert sum(path.stat().st_size for path in SAMPLES_DIR.iterdir()) < 128 * 1024


def test_the_readme_lists_every_sample() -> None:
    readme = (SAMPLES_DIR / "README.md").read_text(encoding="utf-8")
    assert [name for name in NAMES if f"`{name}.msgpack`" not in readme] == []

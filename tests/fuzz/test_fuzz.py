"""Property-based fuzzing of every endpoint that takes outside input, 500 cases each.

``benchmarks/fuzz.py`` runs the same targets with tens of thousands of cases.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings

from tests.fuzz.control_targets import ControlProbe, control_requests
from tests.fuzz.file_targets import check_config, check_dataset, config_texts, png_corruptions
from tests.fuzz.wire_targets import check_decoder, wire_messages
from tests.pipeline.conftest import make_config
from vkstream.pipeline.control import ControlServer
from vkstream.pipeline.runtime import Pipeline
from vkstream.synth import generate_dataset

CASES = settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck), database=None)


def test_the_wire_decoder_raises_nothing_but_wire_format_errors() -> None:
    outcomes: Counter[str] = Counter()

    @CASES
    @given(wire_messages())
    def decode(frames: list[bytes]) -> None:
        outcomes[check_decoder(frames)] += 1

    decode()
    assert sum(outcomes.values()) >= 500 and outcomes["MalformedMessage"] > 0, outcomes


@pytest.fixture(scope="module")
def probe() -> Iterator[ControlProbe]:
    server = ControlServer(Pipeline(make_config("fuzz")), "tcp://127.0.0.1:*")
    client = ControlProbe(server.endpoint)
    yield client
    client.close()
    server.close()


def test_the_control_endpoint_answers_every_request_with_json_and_goes_on(probe: ControlProbe) -> None:
    outcomes: Counter[str] = Counter()

    @CASES
    @given(control_requests())
    @example([b'{"op": "attach", "stream": {"\\n": null}}'])  # a key of a newline, named in the error
    def ask(parts: list[bytes]) -> None:
        outcomes[probe.check(parts)] += 1

    ask()
    assert sum(outcomes.values()) >= 500 and outcomes["error"] > 0, outcomes


def test_config_files_of_any_content_load_or_raise_one_config_error(tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()

    @CASES
    @given(config_texts())
    def load(text: bytes) -> None:
        outcomes[check_config(tmp_path / "pipeline.yaml", text)] += 1

    load()
    assert sum(outcomes.values()) >= 500 and outcomes["ConfigError"] > 0, outcomes


def test_dataset_readers_skip_or_name_every_corrupted_png(tmp_path: Path) -> None:
    data = tmp_path / "data"
    generate_dataset(data, layout="kitti-step", sequences=1, frames=2, size=(32, 32), seed=3, progress=False)
    outcomes: Counter[str] = Counter()

    @CASES
    @given(png_corruptions())
    def read(corruption) -> None:
        outcomes[check_dataset(data, corruption)] += 1

    read()
    assert sum(outcomes.values()) >= 500 and outcomes["DatasetError"] > 0, outcomes

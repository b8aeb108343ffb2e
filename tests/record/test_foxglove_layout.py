"""docs/foxglove-layout.json shows what vkstream writes: every topic and field it names exists, on a
topic of the kind its panel draws."""

from __future__ import annotations

import json
from pathlib import Path

from vkstream.record import DEPTH_MM_MAX, IMAGE_TOPICS, topics
from vkstream.record.channels import JSON_SCHEMAS

LAYOUT = Path(__file__).resolve().parents[2] / "docs" / "foxglove-layout.json"


def _split(path: str) -> tuple[str, str, list[str]]:
    """``/cam0/telemetry.latency_ms.total`` -> ("cam0", "telemetry", ["latency_ms", "total"])."""
    topic, *fields = path.split(".")
    _, stream, name = topic.split("/")
    return stream, name, fields


def test_the_layout_names_only_topics_and_fields_that_are_written() -> None:
    layout = json.loads(LAYOUT.read_text())
    panels = layout["configById"]
    placed = json.dumps(layout["layout"])
    assert all(f'"{panel}"' in placed for panel in panels)  # no panel is left out of the view
    kinds = {"Image": 0, "Table": 0, "Plot": 0, "3D": 0}
    for panel, config in panels.items():
        kind = panel.split("!")[0]
        kinds[kind] += 1
        if kind == "Image":
            mode = config["imageMode"]
            assert _split(mode["imageTopic"])[1] in IMAGE_TOPICS
            assert _split(mode["calibrationTopic"])[1] == "calibration"
            assert all(_split(t)[1] == "annotations" for t in mode.get("annotations", {}))
            if _split(mode["imageTopic"])[1] == "depth":  # 16UC1 millimetres, coloured by a range
                assert (mode["colorMode"], mode["colorMap"]) == ("colormap", "turbo")
                assert 0 <= mode["minValue"] < 1000 < 50_000 <= mode["maxValue"] <= DEPTH_MM_MAX
        elif kind == "3D":
            assert [_split(t)[1] for t in config["topics"]] == ["things"]
        paths = [config["topicPath"]] if kind == "Table" else [p["value"] for p in config.get("paths", [])]
        for path in paths:
            stream, name, fields = _split(path)
            assert f"/{stream}/{name}" in topics(stream)
            schema = JSON_SCHEMAS[
                {"track_list": "vkstream.TrackList", "telemetry": "vkstream.Telemetry"}[name]
            ]
            assert fields[0] in schema["properties"], path
        for config_topic in [*config.get("topics", {}), *config.get("imageMode", {}).get("annotations", {})]:
            assert config_topic in topics(_split(config_topic)[0])
    assert kinds == {"Image": 3, "Table": 1, "Plot": 1, "3D": 1}

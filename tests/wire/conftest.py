"""A publisher on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vkstream.nodes.publisher import Publisher, PublisherConfig


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    with Publisher(PublisherConfig(endpoint="tcp://127.0.0.1:*")) as pub:
        yield pub

"""Console logging for the command line: short lines on stderr, under the ``vkstream`` logger."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_FORMAT = "%(asctime)s %(levelname).1s %(name)s: %(message)s"
_DATE_FORMAT = "%H:%M:%S"


@contextmanager
def console_logging(level: int) -> Iterator[None]:
    """Show ``vkstream.*`` records at ``level`` and above on stderr while the block runs.

    The previous logger state comes back afterwards, so running the command line inside another
    program (or a test) leaves that program's logging as it was. Records still propagate to the
    root logger, where an embedding application may collect them too.
    """
    logger = logging.getLogger("vkstream")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, _DATE_FORMAT))
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

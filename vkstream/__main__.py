"""``python -m vkstream``: the same as the ``vkstream`` console script."""

import sys

from vkstream.launch.cli import main

sys.exit(main())

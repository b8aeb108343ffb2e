"""The ``vkstream`` command line: argument parsing, config files and one-line error reporting.

Nothing is imported here so that ``vkstream --help`` starts without loading pydantic, numpy or torch;
use ``vkstream.launch.config`` for config loading.
"""

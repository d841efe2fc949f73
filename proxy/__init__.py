"""The Cyclr host kit: the host side of Cyclr's embedded Marketplace, as a reusable Django app."""

# The one source of the version: pyproject.toml reads it (tool.setuptools.dynamic).
__version__ = "0.1.0"

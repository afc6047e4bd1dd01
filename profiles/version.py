"""The installed ambience's version, for the API's OpenAPI document and Home Assistant's device card."""

from __future__ import annotations

import functools
from importlib import metadata

__all__ = ["ambience_version"]


@functools.cache
def ambience_version() -> str:
    """Read from the installed package's metadata once: a file read, and it cannot change while running."""
    try:
        return metadata.version("ambience")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"

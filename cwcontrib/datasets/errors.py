"""The one error every loader raises."""

from __future__ import annotations


class DatasetError(Exception):
    """A test split is missing, malformed, or does not match its pinned checksum."""

"""Errors of ``neuro.datasets``: each message says what is wrong and what to do."""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """Files of a dataset are missing; the message lists where to put which files and the URL."""


class CorruptFileError(ValueError):
    """A data or cache file is truncated, corrupt or not in the expected format."""

"""Implementations of the ``neuro`` subcommands (one module each)."""

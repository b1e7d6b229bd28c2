"""Synthetic tasks shipped with neuro (no download needed)."""

from neuro.tasks.delayed_recall import DelayedRecall, RecallNet, parameter_count, train_recall

__all__ = ["DelayedRecall", "RecallNet", "parameter_count", "train_recall"]

"""Synthetic tasks shipped with neuro (no download needed)."""

from neuro.tasks.delayed_recall import DelayedRecall, RecallNet, parameter_count, train_recall
from neuro.tasks.reservoir_tasks import (
    StreamTask,
    delayed_pattern_task,
    memory_task,
    narma_task,
    order_task,
    spike_adding_task,
)

__all__ = ["DelayedRecall", "RecallNet", "StreamTask", "delayed_pattern_task", "memory_task", "narma_task",
           "order_task", "parameter_count", "spike_adding_task", "train_recall"]

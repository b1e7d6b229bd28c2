"""Event datasets of neuro (installed as ``neuro.datasets``).

* :func:`load_dataset` / :data:`DATASETS` — every dataset by name, as ``(frames [T, ...], label)``.
* ``digits_events`` — embedded, no download: :class:`DigitsEvents` (events), :class:`DigitsFrames`
  and :func:`digits_frames` (binned frames), built by the saccade simulator
  (:mod:`neuro.datasets.saccades`).
* :class:`EventFrames` — N-MNIST, SHD, SSC, DVS128 Gesture, N-TIDIGITS through tonic (``neuro[data]``).
* :func:`pad_collate` — time-major batches ``[T, B, ...]`` with lengths.
* :mod:`neuro.datasets.cache` — the HDF5 frame cache. :func:`bin_events` — tonic-free binning.
"""

if __name__ != "neuro.datasets":  # the folder is named datasets/ but must never be imported as such
    raise ImportError(
        "the datasets/ folder of the neuro repository is the package 'neuro.datasets'; it was imported "
        f"as {__name__!r} because the repository root is on sys.path (this would shadow the PyPI "
        "package 'datasets'). Install neuro (pip install -e .) and import neuro.datasets; run tests "
        "with `pytest`, not `python -m pytest`."
    )

from .catalog import DATASETS, dataset_names, load_dataset  # noqa: E402
from .collate import FrameBatch, pad_collate  # noqa: E402
from .digits import DigitsEvents, DigitsFrames, FrameSet, digits_frames  # noqa: E402
from .errors import CorruptFileError, DatasetNotFoundError  # noqa: E402
from .events import EVENT_DTYPE, bin_events, make_events  # noqa: E402
from .saccades import SaccadeConfig, simulate_saccades  # noqa: E402
from .specs import SPECS  # noqa: E402
from .tonic_datasets import EventFrames, FrameOptions  # noqa: E402

__all__ = ["DATASETS", "EVENT_DTYPE", "SPECS", "CorruptFileError", "DatasetNotFoundError",
           "DigitsEvents", "DigitsFrames", "EventFrames", "FrameBatch", "FrameOptions", "FrameSet",
           "SaccadeConfig", "bin_events", "dataset_names", "digits_frames", "load_dataset",
           "make_events", "pad_collate", "simulate_saccades"]

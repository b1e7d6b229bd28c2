"""Recorded event datasets through tonic: N-MNIST, SHD, SSC, DVS128 Gesture, N-TIDIGITS.

Files are read by ``tonic.datasets`` (extra ``neuro[data]``) from tonic's own layout under a root
folder (argument ``root`` or the ``NEURO_DATA`` environment variable), e.g.
``<root>/NMNIST/Train/3/00012.bin`` or ``<root>/SHD/shd_train.h5`` (:mod:`neuro.datasets.specs`).
Missing files raise :class:`DatasetNotFoundError` naming the files, where to put them and the
official URL; ``download=True`` lets tonic download
them instead. Samples are checked (truncated/corrupt files -> :class:`CorruptFileError`), passed
through ``tonic.transforms`` (``Denoise``, ``Downsample``, ``CenterCrop``) and binned with
``tonic.transforms.ToFrame`` into dense time-major frames: ``[T, 2, H, W]`` for cameras,
``[T, channels]`` for cochlea-like audio sensors. ``cache_dir`` stores the frames in an HDF5 cache
(:mod:`neuro.datasets.cache`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from .errors import CorruptFileError, DatasetNotFoundError
from .specs import PathLike, files_present, get_spec, missing_message, resolve_root, split_path, validate_hdf5


@dataclass(frozen=True)
class FrameOptions:
    """How events become frames (all optional; exactly one of the two binnings is used).

    Args:
        time_window_us: frame length in microseconds (default: the dataset's usual window).
        n_time_bins: a fixed number of frames per sample instead of a fixed window.
        duration_us: bin ``[0, duration_us)`` exactly (fixed ``T`` with ``time_window_us``);
            by default frames run from ``t = 0`` to the last event.
        denoise_us: ``tonic.transforms.Denoise(filter_time)`` (cameras only).
        downsample: spatial (cameras) or channel (audio) factor, e.g. ``0.25`` for 128 -> 32.
        crop: ``tonic.transforms.CenterCrop`` to ``(W, H)`` after downsampling (cameras only).
        include_incomplete: with ``time_window_us`` and no ``duration_us``, keep the last, partly
            filled frame so that every event is counted (``T = t_last // window + 1``); by
            default tonic drops it (``T = t_last // window``).
    """

    time_window_us: float | None = None
    n_time_bins: int | None = None
    duration_us: float | None = None
    denoise_us: float | None = None
    downsample: float | None = None
    crop: tuple[int, int] | None = None
    include_incomplete: bool = False

    def __post_init__(self) -> None:
        if self.time_window_us is not None and self.n_time_bins is not None:
            raise ValueError("give either time_window_us or n_time_bins, not both")
        if self.include_incomplete and self.n_time_bins is not None:
            raise ValueError("include_incomplete applies to time_window_us binning, not n_time_bins")
        for name in ("time_window_us", "n_time_bins", "duration_us", "denoise_us", "downsample"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be positive, got {value!r}")
        if self.downsample is not None and self.downsample > 1:
            raise ValueError(f"downsample is a factor <= 1, got {self.downsample}")


@cache
def _tonic_class(name: str, split: str, allow_download: bool) -> type:
    """The tonic dataset class with its file check replaced by neuro's (and no silent download)."""
    import tonic.datasets

    spec = get_spec(name)
    base = getattr(tonic.datasets, spec.tonic_class)

    def _check_exists(self) -> bool:
        return files_present(spec, Path(self.location_on_system).parent, split)

    def download(self) -> None:
        if not allow_download:
            raise DatasetNotFoundError(missing_message(spec, Path(self.location_on_system).parent,
                                                       split))
        base.download(self)

    # same class name: tonic stores files under <root>/<class name>/
    return type(base.__name__, (base,), {"_check_exists": _check_exists, "download": download,
                                         "__module__": __name__})


def _require_tonic() -> None:
    import importlib.util

    if importlib.util.find_spec("tonic") is None:
        raise ImportError("recorded event datasets need tonic: pip install 'neuro[data]'")


class EventFrames(torch.utils.data.Dataset):
    """A recorded dataset as ``(frames, label)`` pairs; ``frames`` is a float32 tensor ``[T, ...]``.

    Args:
        name: one of :data:`SPECS` (``nmnist``, ``shd``, ``ssc``, ``dvs_gesture``, ``ntidigits``).
        split: ``"train"``, ``"test"`` (``"valid"`` for SSC).
        root: data root (default ``$NEURO_DATA``). download: let tonic fetch missing files.
        options: :class:`FrameOptions` (or pass its fields as keywords).
        cache_dir: store/read binned frames in an HDF5 cache there (default ``$NEURO_CACHE_DIR``
            if set, else no cache).
        transform: extra ``tonic.transforms`` applied to the events before the built-in ones.

    Attributes: ``frame_shape`` (shape of one frame), ``n_classes``, ``sensor_size`` (after the
    transforms), ``dt`` (frame length in seconds; None for ``n_time_bins`` without
    ``duration_us``), ``events(i)`` (raw validated events of sample ``i``).
    """

    def __init__(self, name: str, split: str = "train", root: PathLike | None = None, *,
                 download: bool = False, options: FrameOptions | None = None,
                 cache_dir: PathLike | None = None, transform=None, progress: bool = True,
                 **option_fields) -> None:
        self.spec = spec = get_spec(name)
        if split not in spec.splits:
            raise ValueError(f"{spec.title} has splits {spec.splits}, got {split!r}")
        if options is None:
            options = FrameOptions(**option_fields)
        elif option_fields:
            raise TypeError("pass either options= or its fields as keywords, not both")
        if options.time_window_us is None and options.n_time_bins is None:
            options = FrameOptions(**{**asdict(options),
                                      "time_window_us": spec.default_time_window_us})
        self.split, self.options, self.transform = split, options, transform
        self.root = resolve_root(root)
        if not files_present(spec, self.root, split) and not download:
            raise DatasetNotFoundError(missing_message(spec, self.root, split))
        _require_tonic()
        if spec.hdf5 is not None and files_present(spec, self.root, split):
            validate_hdf5(spec, split_path(spec, self.root, split), split)
        self._tonic = self._open_tonic(download)
        self.n_classes = spec.n_classes
        if options.time_window_us is not None:
            self.dt = options.time_window_us / 1e6
        elif options.duration_us is not None:
            self.dt = options.duration_us / options.n_time_bins / 1e6
        else:
            self.dt = None
        self.sensor_size = self._output_sensor_size()
        width, height, pol = self.sensor_size
        self.frame_shape = (width,) if spec.audio else (pol, height, width)
        from .cache import open_or_build, resolve_cache_dir

        cache_dir = resolve_cache_dir(cache_dir)
        self._cache = None
        if cache_dir is not None:
            import tonic

            params = {"dataset": name, "split": split, "options": asdict(options),
                      "transform": repr(transform), "tonic": tonic.__version__}
            self._cache = open_or_build(cache_dir, name, split, params, len(self._tonic),
                                        self._binned, progress=progress, n_classes=spec.n_classes)

    def __getstate__(self) -> dict:  # picklable for spawned DataLoader workers
        state = self.__dict__.copy()
        state["_tonic"] = None  # tonic's dataset object is rebuilt from the files
        state["spec"] = self.spec.name  # the table entry is looked up again
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.spec = get_spec(state["spec"])
        self._tonic = self._open_tonic(download=False)

    def _open_tonic(self, download: bool):
        cls = _tonic_class(self.spec.name, self.split, download)
        kwargs = {}
        if self.spec.name == "ssc":
            kwargs["split"] = self.split
        else:
            kwargs["train"] = self.split == "train"
        if self.spec.name == "ntidigits":
            kwargs["single_digits"] = True
        try:
            return cls(save_to=str(self.root), **kwargs)
        except (OSError, KeyError) as err:
            raise CorruptFileError(f"{self.spec.title} under {self.root / self.spec.tonic_class} "
                                   f"could not be opened ({err})") from err

    def _downsampled_size(self) -> tuple[int, int, int]:
        width, height, pol = self.spec.sensor_size
        f = self.options.downsample
        if f is None:
            return (width, height, pol)
        return (int(np.floor((width - 1) * f)) + 1,
                height if self.spec.audio else int(np.floor((height - 1) * f)) + 1, pol)

    def _output_sensor_size(self) -> tuple[int, int, int]:
        width, height, pol = self._downsampled_size()
        if self.options.crop is not None and not self.spec.audio:
            width, height = (int(c) for c in self.options.crop)
        return (width, height, pol)

    def __len__(self) -> int:
        return len(self._tonic)

    def events(self, index: int) -> np.ndarray:
        """The validated raw events of sample ``index`` (tonic's structured array)."""
        return self._read(index)[0]

    def _sample_path(self, index: int) -> str:
        data = getattr(self._tonic, "data", None)
        if isinstance(data, list) and index < len(data):
            return str(data[index])
        return str(split_path(self.spec, self.root, self.split))

    def _read(self, index: int) -> tuple[np.ndarray, int]:
        path = self._sample_path(index)
        if self.spec.nmnist_files:
            size = os.path.getsize(path)
            if size == 0 or size % 5:
                raise CorruptFileError(f"{path} is truncated: {size} bytes is not a whole number of "
                                       "5-byte N-MNIST events")
        try:
            events, label = self._tonic[index]
        except (OSError, ValueError, KeyError, IndexError) as err:
            raise CorruptFileError(f"sample {index} of {self.spec.title} ({path}) could not be "
                                   f"read: {err}") from err
        width, height, pol = self.spec.sensor_size
        names = events.dtype.names or ()
        bad = len(events) and (events["x"].min() < 0 or events["x"].max() >= width
                               or ("y" in names and (events["y"].min() < 0
                                                     or events["y"].max() >= height))
                               or events["t"].min() < 0)
        if bad:
            raise CorruptFileError(f"sample {index} of {self.spec.title} ({path}) has events "
                                   f"outside the {width}x{height} sensor or negative times")
        if not 0 <= int(label) < self.spec.n_classes:
            raise CorruptFileError(f"sample {index} of {self.spec.title} ({path}) has label "
                                   f"{int(label)}; labels must lie in [0, {self.spec.n_classes})")
        return events, int(label)

    def _binned(self, index: int) -> tuple[np.ndarray, int]:
        import tonic.transforms as T

        events, label = self._read(index)
        steps = [] if self.transform is None else [self.transform]
        o = self.options
        if o.denoise_us is not None and not self.spec.audio:
            steps.append(T.Denoise(filter_time=o.denoise_us))
        if o.downsample is not None:
            steps.append(T.Downsample(spatial_factor=o.downsample))
        if o.crop is not None and not self.spec.audio:
            steps.append(T.CenterCrop(sensor_size=self._downsampled_size(), size=tuple(o.crop)))
        for step in steps:
            events = step(events)
        end_time = o.duration_us
        if end_time is None and o.include_incomplete and len(events):
            end_time = int(events["t"].max()) + 1  # frames up to and including the last event
        to_frame = T.ToFrame(sensor_size=self.sensor_size, time_window=o.time_window_us,
                             n_time_bins=o.n_time_bins,
                             start_time=0 if o.time_window_us is not None else None,
                             end_time=end_time,
                             include_incomplete=o.include_incomplete and o.duration_us is None)
        frames = to_frame(events)
        if self.spec.audio:  # tonic gives [T, P=1, channels]
            frames = frames.reshape(len(frames), -1)
        return frames, label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frames, label = self._cache[index] if self._cache is not None else self._binned(index)
        return torch.from_numpy(np.asarray(frames, dtype=np.float32)), label

    @property
    def targets(self) -> np.ndarray:
        """Labels of all samples (without binning any frames)."""
        if self._cache is not None:
            return self._cache.labels
        targets = getattr(self._tonic, "targets", None)
        if targets:
            return np.asarray(targets, dtype=np.int64)
        if self.spec.name in ("shd", "ssc"):
            import h5py

            with h5py.File(split_path(self.spec, self.root, self.split), "r") as f:
                return f["labels"][()].astype(np.int64)
        return np.asarray([self._read(i)[1] for i in range(len(self))], dtype=np.int64)

"""What neuro knows about the recorded datasets: tonic class, file layout, sizes, official URLs.

Files live in tonic's layout under a root folder (argument ``root`` or ``$NEURO_DATA``), e.g.
``<root>/NMNIST/Train/3/00012.bin`` or ``<root>/SHD/shd_train.h5``; :func:`missing_message` says
which files go where and where to download them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .errors import CorruptFileError, DatasetNotFoundError

PathLike = str | os.PathLike


@dataclass(frozen=True)
class EventDatasetSpec:
    """What neuro knows about one recorded dataset: tonic class, layout, sizes and where to get it."""

    name: str
    title: str
    tonic_class: str
    sensor_size: tuple[int, int, int]
    n_classes: int
    splits: tuple[str, ...]
    layout: Mapping[str, str]  # split -> expected path under <root>/<tonic_class>/
    page_url: str
    download_url: str
    default_time_window_us: int
    audio: bool = False
    nmnist_files: bool = False  # N-MNIST 40-bit .bin samples (size must be a multiple of 5)
    hdf5: Mapping[str, tuple[str, ...]] | None = field(default=None)  # file -> required keys


_HSD_KEYS = ("spikes/times", "spikes/units", "labels", "extra/keys", "extra/speaker")

SPECS: Mapping[str, EventDatasetSpec] = MappingProxyType({
    "nmnist": EventDatasetSpec(
        "nmnist", "N-MNIST", "NMNIST", (34, 34, 2), 10, ("train", "test"),
        MappingProxyType({"train": "Train/<digit 0-9>/<id>.bin (unpack train.zip)",
                          "test": "Test/<digit 0-9>/<id>.bin (unpack test.zip)"}),
        "https://www.garrickorchard.com/datasets/n-mnist",
        "https://data.mendeley.com/datasets/468j46mzdv/1", 1000, nmnist_files=True),
    "shd": EventDatasetSpec(
        "shd", "Spiking Heidelberg Digits", "SHD", (700, 1, 1), 20, ("train", "test"),
        MappingProxyType({"train": "shd_train.h5", "test": "shd_test.h5"}),
        "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/",
        "https://zenkelab.org/datasets/shd_train.h5.zip (and shd_test.h5.zip)", 10_000, audio=True,
        hdf5=MappingProxyType({"train": _HSD_KEYS, "test": _HSD_KEYS})),
    "ssc": EventDatasetSpec(
        "ssc", "Spiking Speech Commands", "SSC", (700, 1, 1), 35, ("train", "valid", "test"),
        MappingProxyType({"train": "ssc_train.h5", "valid": "ssc_valid.h5", "test": "ssc_test.h5"}),
        "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/",
        "https://zenkelab.org/datasets/ssc_train.h5.zip (and ssc_valid/ssc_test)", 10_000, audio=True,
        hdf5=MappingProxyType({"train": _HSD_KEYS, "valid": _HSD_KEYS, "test": _HSD_KEYS})),
    "dvs_gesture": EventDatasetSpec(
        "dvs_gesture", "DVS128 Gesture", "DVSGesture", (128, 128, 2), 11, ("train", "test"),
        MappingProxyType({"train": "ibmGestureTrain/user<NN>_<lighting>/<label>.npy "
                                   "(unpack tonic's ibmGestureTrain.tar.gz)",
                          "test": "ibmGestureTest/user<NN>_<lighting>/<label>.npy "
                                  "(unpack ibmGestureTest.tar.gz)"}),
        "https://research.ibm.com/interactive/dvsgesture/",
        "https://figshare.com/ndownloader/files/38022171 (train), .../38020584 (test) "
        "(tonic's preprocessed copy)", 10_000),
    "ntidigits": EventDatasetSpec(
        "ntidigits", "N-TIDIGITS18", "NTIDIGITS18", (64, 1, 1), 11, ("train", "test"),
        MappingProxyType({"train": "n-tidigits.hdf5", "test": "n-tidigits.hdf5"}),
        "https://docs.google.com/document/d/1Uxe7GsKKXcy6SlDUX4hoJVAC0-UkH-8kr5UXp0Ndi1M",
        "https://www.dropbox.com/scl/fi/1x4lxt9yyw25sc3tez8oi/n-tidigits.hdf5 (tonic's source)",
        10_000, audio=True,
        hdf5=MappingProxyType({"train": ("train_addresses", "train_timestamps", "train_labels"),
                               "test": ("test_addresses", "test_timestamps", "test_labels")})),
})


def resolve_root(root: PathLike | None) -> Path:
    """The data root: ``root`` if given, else ``$NEURO_DATA``; an error says how to set it."""
    if root is None:
        root = os.environ.get("NEURO_DATA")
        if not root:
            raise DatasetNotFoundError("no data folder given: pass root=... (CLI: --data-root) or set "
                                       "the NEURO_DATA environment variable to the folder holding "
                                       "the datasets (e.g. NEURO_DATA=~/data with ~/data/SHD/...)")
    return Path(root).expanduser()


def get_spec(name: str) -> EventDatasetSpec:
    if name not in SPECS:
        raise ValueError(f"unknown recorded dataset {name!r}; valid: {sorted(SPECS)}")
    return SPECS[name]


def split_path(spec: EventDatasetSpec, root: Path, split: str) -> Path:
    first = spec.layout[split].split("/")[0].split(" ")[0]
    return root / spec.tonic_class / first


def files_present(spec: EventDatasetSpec, root: Path, split: str) -> bool:
    """Whether the extracted files of ``split`` are where tonic reads them."""
    target = split_path(spec, root, split)
    if spec.hdf5 is not None:
        return target.is_file()
    suffix = ".bin" if spec.nmnist_files else ".npy"
    return target.is_dir() and any(target.glob(f"*/*{suffix}"))


def missing_message(spec: EventDatasetSpec, root: Path, split: str) -> str:
    return (f"{spec.title} (split {split!r}) was not found under {root}.\n"
            f"  expected: {root / spec.tonic_class / spec.layout[split]}\n"
            f"  official page: {spec.page_url}\n"
            f"  download: {spec.download_url}\n"
            f"Put the files there, point root= / --data-root / NEURO_DATA at the folder that "
            f"contains {spec.tonic_class}/, or pass download=True (CLI: --download) to let tonic "
            f"download them (needs internet).")


def validate_hdf5(spec: EventDatasetSpec, path: Path, split: str) -> None:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in spec.hdf5[split] if k not in f]
            if missing:
                raise CorruptFileError(f"{path} is not a {spec.title} file: keys {missing} are "
                                       f"missing (found {sorted(f.keys())})")
            if spec.name in ("shd", "ssc"):
                n = {k: len(f[k]) for k in ("spikes/times", "spikes/units", "labels")}
                if len(set(n.values())) != 1:
                    raise CorruptFileError(f"{path}: spikes/times, spikes/units and labels differ "
                                           f"in length {n}")
    except OSError as err:
        raise CorruptFileError(f"{path} is not a readable HDF5 file (truncated or corrupt: {err}); "
                               f"download it again from {spec.download_url}") from err

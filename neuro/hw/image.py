"""The "hardware image": an integer network and its resource report in one HDF5 file.

Schema (``schema = "neuro.hw-image"``, ``schema_version = 1``)::

    /                      attrs: schema, schema_version, format ("loihi"|"xylo"), weight_bits,
                                  current_overflow, input_shape, n_layers, created_by
    /layers/<k>/           attrs: name, reset, weight_exponent, scale, source ("input" | k - 1)
        weight_mantissa    int16 [n_out, n_in]    (connectivity: non-zero entries are synapses)
        decay_u, decay_v   int32 [n_out]
        bias_mantissa      int32 [n_out]
        bias_exponent      int32 [n_out]
        threshold_mantissa int32 [n_out]
    /resources             attr "json": the report of ``IntegerNetwork.resources`` (neurons,
                           synapses, memory bits, fan-in/out per layer, spikes and synaptic
                           operations per inference when measured)

Files are written to a temporary file and renamed (never half-written); the reader validates the
schema, every dataset's presence, dtype and shape, and the format's ranges, and turns truncated or
corrupt files into clear errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from neuro import __version__
from neuro._io import PathLike, atomic_write_path, open_hdf5
from neuro.hw.network import IntegerLayer, IntegerNetwork

SCHEMA = "neuro.hw-image"
SCHEMA_VERSION = 1
_PER_NEURON = ("decay_u", "decay_v", "bias_mantissa", "bias_exponent", "threshold_mantissa")


class HardwareImageError(ValueError):
    """A hardware image that cannot be read (names the file and the problem)."""


def write_image(network: IntegerNetwork, path: PathLike, resources: dict | None = None) -> Path:
    """Write ``network`` (and a resource report, default: static only) to ``path`` atomically."""
    network.validate()
    report = resources if resources is not None else network.resources()

    def write(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(schema=SCHEMA, schema_version=SCHEMA_VERSION, format=network.format,
                           weight_bits=network.weight_bits, current_overflow=network.current_overflow,
                           input_shape=np.asarray(network.input_shape, np.int64),
                           n_layers=len(network.layers), created_by=f"neuro {__version__}")
            group = f.create_group("layers")
            for k, layer in enumerate(network.layers):
                g = group.create_group(str(k))
                g.attrs.update(name=layer.name, reset=layer.reset,
                               weight_exponent=int(layer.weight_exponent), scale=float(layer.scale),
                               source="input" if k == 0 else str(k - 1))
                g.create_dataset("weight_mantissa", data=layer.weight_mantissa.astype(np.int16),
                                 compression="gzip")
                for name in _PER_NEURON:
                    g.create_dataset(name, data=np.asarray(getattr(layer, name)).astype(np.int32))
            f.create_dataset("resources", data=np.zeros(0, np.int8))
            f["resources"].attrs["json"] = json.dumps(report)

    return atomic_write_path(path, write)


def _fail(path: PathLike, text: str) -> HardwareImageError:
    return HardwareImageError(f"hardware image {str(path)!r}: {text}")


def read_image(path: PathLike) -> tuple[IntegerNetwork, dict]:
    """``(network, resource report)`` of a hardware image, ready for :func:`neuro.hw.emulate`."""
    path = Path(path)
    handle = open_hdf5(path, what="hardware image", error=HardwareImageError)
    try:
        with handle as f:
            attrs = dict(f.attrs)
            if attrs.get("schema") != SCHEMA:
                raise _fail(path, f"schema is {attrs.get('schema')!r}, expected {SCHEMA!r}")
            version = int(attrs.get("schema_version", -1))
            if version != SCHEMA_VERSION:
                raise _fail(path, f"schema_version {version} is not supported (this neuro reads "
                                  f"{SCHEMA_VERSION})")
            n_layers = int(attrs.get("n_layers", -1))
            if "layers" not in f or sorted(f["layers"].keys(), key=int) != [str(k) for k in
                                                                               range(n_layers)]:
                raise _fail(path, f"expected layers 0..{n_layers - 1} under /layers")
            layers = []
            for k in range(n_layers):
                g = f["layers"][str(k)]
                missing = [d for d in ("weight_mantissa",) + _PER_NEURON if d not in g]
                if missing:
                    raise _fail(path, f"layer {k} lacks datasets {missing}")
                data = {d: g[d][()] for d in ("weight_mantissa",) + _PER_NEURON}
                layers.append(IntegerLayer(
                    str(g.attrs["name"]), data["weight_mantissa"].astype(np.int64),
                    int(g.attrs["weight_exponent"]),
                    *(data[d].astype(np.int64) for d in _PER_NEURON),
                    reset=str(g.attrs["reset"]), scale=float(g.attrs["scale"])))
            report = json.loads(f["resources"].attrs["json"]) if "resources" in f else {}
            try:
                network = IntegerNetwork(str(attrs["format"]), layers, int(attrs["weight_bits"]),
                                         str(attrs["current_overflow"]),
                                         tuple(int(v) for v in attrs["input_shape"]))
            except ValueError as err:
                raise _fail(path, str(err)) from err
            return network, report
    except HardwareImageError:
        raise
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as err:
        raise _fail(path, f"unreadable content ({type(err).__name__}: {err}); truncated or "
                          "corrupt?") from err

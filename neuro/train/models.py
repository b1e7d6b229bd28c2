"""Models by name: ``build_model(name, input_shape=..., n_classes=..., dt=..., **options)``.

:data:`MODELS` maps a name to a builder ``(input_shape, n_classes, *, dt, readout, **options) ->
nn.Module`` whose forward is ``(x [T, B, *input_shape]) -> (out [T, B, n_classes], state)``.
Later work adds entries here (an immutable table, not a runtime registry). Checkpoints store the
arguments of ``build_model`` (:func:`model_spec`), so a model is rebuilt from its checkpoint alone.

:data:`RECIPES` maps a model with published training settings to ``dataset -> TrainConfig
fields`` (used by ``neuro train`` and :meth:`TrainConfig.recipe` for every field not given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any

from torch import nn

from neuro.models.classifiers import conv_snn, dense_snn
from neuro.models.delay_snn import delay_snn, training_options

MODELS: Mapping[str, Callable[..., nn.Module]] = MappingProxyType({
    "csnn": conv_snn,                                  # frames [C, H, W]
    "snn": dense_snn,                                  # channels [N], feed-forward LIF
    "cuba_snn": partial(dense_snn, neuron="cuba_lif"),  # feed-forward CubaLIF
    "rsnn": partial(dense_snn, recurrent=True),        # recurrent LIF
    "cuba_rsnn": partial(dense_snn, recurrent=True, neuron="cuba_lif"),
    "delay_snn": delay_snn,                            # channels [N], SNN-delays recipe (DCLS)
})

RECIPES: Mapping[str, Callable[[str], dict[str, Any]]] = MappingProxyType({
    "delay_snn": training_options,
})


def model_names() -> list[str]:
    return sorted(MODELS)


def model_spec(name: str, input_shape: Sequence[int], n_classes: int, dt: float,
               readout: str = "membrane", **options: Any) -> dict[str, Any]:
    """The plain-data description of a model (what checkpoints store)."""
    return {"name": name, "input_shape": [int(v) for v in input_shape], "n_classes": int(n_classes),
            "dt": float(dt), "readout": readout, "options": dict(options)}


def build_model(name: str, *, input_shape: Sequence[int], n_classes: int, dt: float,
                readout: str = "membrane", **options: Any) -> nn.Module:
    """Build model ``name``; unknown names and options give errors listing the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid: {', '.join(model_names())}")
    try:
        return MODELS[name](tuple(input_shape), n_classes, dt=dt, readout=readout, **options)
    except TypeError as err:  # unexpected keyword: bad input, reported like an unknown name
        raise ValueError(f"bad options {sorted(options)} for model {name!r}: {err}") from err


def build_from_spec(spec: Mapping[str, Any]) -> nn.Module:
    """Rebuild a model from :func:`model_spec`'s dictionary (e.g. ``checkpoint['model_spec']``)."""
    return build_model(spec["name"], input_shape=spec["input_shape"], n_classes=spec["n_classes"],
                       dt=spec["dt"], readout=spec["readout"], **spec["options"])

r"""Discrete neuro neurons <-> NIR's continuous-time neuron nodes.

NIR describes neurons by ODEs; with a step ``dt`` the NIR paper (and every NIR importer in this
comparison) integrates them with **forward Euler**:

.. math::
    v_{t} = v_{t-1} + \frac{dt}{\tau}\big((v_{leak} - v_{t-1}) + r\,I_t\big)
          = \beta v_{t-1} + (1 - \beta) v_{leak} + (1 - \beta)\, r\, I_t,\qquad \beta = 1 - dt/\tau

then spikes when :math:`v_t > v_{th}` and sets :math:`v_t = v_{reset}`. ``CubaLIF``/``CubaLI`` first
update the current, :math:`I_t = \alpha I_{t-1} + (1 - \alpha) w_{in} x_t` with
:math:`\alpha = 1 - dt/\tau_{syn}`, and drive the membrane with :math:`I_t` (the new current, as in
snnTorch's ``Synaptic``, which produced the NIR paper's CubaLIF graphs). ``IF`` and ``I`` are
:math:`\dot v = R I`, i.e. :math:`v_t = v_{t-1} + dt\,R\,I_t`.

This is exactly the engine's Euler LIF with ``decay_input=True``
(:math:`g_v = r(1-\beta)`, :math:`c = (1-\beta) v_{leak}`), so **import** builds
``LIF(tau_mem=tau, r=r, v_leak=..., integration="euler", decay_input=True, reset="zero",
threshold_op=">")`` (and likewise for the other nodes; ``IF``/``I`` get ``r = R dt``).

**Export** goes the other way for any neuro neuron: the model's discrete coefficients
(:math:`\beta, g_v, c, \alpha, g_i`, see :mod:`neuro.functional.lif`) are what the network computes,
whatever produced them (Euler or exact decays, ``decay_input`` or not, ``beta=`` given directly), and
the NIR fields are chosen so that NIR's Euler step at the export ``dt`` reproduces them:

.. math::
    \tau = \frac{dt}{1 - \beta},\quad r = \frac{g_v}{1 - \beta},\quad v_{leak} = \frac{c}{1-\beta},
    \quad \tau_{syn} = \frac{dt}{1 - \alpha},\quad w_{in} = \frac{g_i}{1 - \alpha},\quad
    R_{IF} = \frac{g_v}{dt}.

When the module already is Euler at the export ``dt`` the fields are its own ``tau_mem``, ``r``...
(``r`` times ``tau/dt`` without ``decay_input``: the snnTorch convention ``r = tau/dt``), so they
are exact. NIR cannot express subtract / delayed resets, ``>=`` thresholds or adaptive thresholds:
strict export refuses them with a message; ``strict=False`` writes the nearest NIR node, warns,
and records the exact neuro configuration in the node's ``metadata["neuro"]`` (JSON), which
:func:`neuro.nir.from_nir` uses when it agrees with the standard fields.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from neuro import surrogate as surrogates
from neuro.functional import lif as F
from neuro.nir._deps import NIRError, NIRExportWarning
from neuro.nn import neurons as N
from neuro.nn.layers import Integrator

Shape = tuple[int, ...]

#: neuro neuron classes by name (for metadata round trips); the sequence forms
NEURON_CLASSES = MappingProxyType({"IF": N.IF, "LIF": N.LIF, "CubaLIF": N.CubaLIF, "LI": N.LI,
                                   "CubaLI": N.CubaLI, "Integrator": Integrator})
#: NIR node type of each neuro model
NIR_TYPE = MappingProxyType({"IF": "IF", "LIF": "LIF", "CubaLIF": "CubaLIF", "LI": "LI",
                             "CubaLI": "CubaLI", "I": "I"})


# ------------------------------------------------------------------------------- helpers
def _detached(p: F.NeuronParameters) -> F.NeuronParameters:
    changes = {f.name: getattr(p, f.name).detach().to(torch.float64)
               for f in dataclasses.fields(p) if isinstance(getattr(p, f.name), torch.Tensor)}
    return p.replace(**changes)


def discrete_coefficients(module: N.NeuronBase, features: Shape) -> dict[str, np.ndarray]:
    """The module's per-neuron discrete coefficients (float64, shape ``features``)."""
    table = F.coefficients(module.model, _detached(module.parameters_physical), features,
                           torch.float64, torch.device("cpu")).numpy()
    names = ("alpha", "gi", "beta", "gv", "c", "th", "vr", "rho", "ba")
    return {n: np.broadcast_to(table[k].reshape(features) if table.shape[1] > 1 else table[k, 0],
                               features).copy() for k, n in enumerate(names)}


def _value(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64).tolist() if x.numel() > 1 else float(x)
    return x if x is None or isinstance(x, (bool, str)) else float(x)


def neuro_metadata(module: N.NeuronBase, dt: float) -> str:
    """JSON of everything needed to rebuild ``module`` exactly (stored in ``metadata["neuro"]``)."""
    p = module.parameters_physical
    sg = module.cfg.surrogate
    info = {
        "class": type(module).__name__.removesuffix("Cell"), "export_dt": dt, "module_dt": p.dt,
        "shape": list(module.shape), "integration": p.integration, "decay_input": p.decay_input,
        "beta": _value(p.beta), "alpha": _value(p.alpha), "reset": module.cfg.reset,
        "threshold_op": ">=" if module.cfg.ge else ">",
        "detach_reset": module.cfg.detach_reset,
        "surrogate": {"name": type(sg).__name__, "params": dataclasses.asdict(sg)},
        "params": {name: _value(module.physical(name)) for name in module.physical_names},
    }
    return json.dumps(info)


def module_from_metadata(text: str, backend: str, dtype: torch.dtype = torch.float32) -> N.NeuronBase:
    """Rebuild the neuron described by :func:`neuro_metadata`."""
    info = json.loads(text)
    return set_exact(_build_from_info(info, backend), info["params"], dtype)


def _build_from_info(info: dict, backend: str) -> N.NeuronBase:
    cls = NEURON_CLASSES[info["class"]]

    def tensor(v):
        return torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v

    params = {k: tensor(v) for k, v in info["params"].items()}
    if cls is Integrator:
        return Integrator(tuple(info["shape"]), r=params["r"], dt=info["module_dt"], backend=backend)
    sg = info["surrogate"]
    kwargs = dict(dt=info["module_dt"], integration=info["integration"],
                  decay_input=info["decay_input"], reset=info["reset"],
                  threshold_op=info["threshold_op"], detach_reset=info["detach_reset"],
                  surrogate=getattr(surrogates, sg["name"])(**sg["params"]), backend=backend)
    if "beta" in cls.__init__.__code__.co_varnames:
        kwargs["beta"] = tensor(info["beta"])
    if "alpha" in cls.__init__.__code__.co_varnames:  # absent from files written before it existed
        kwargs["alpha"] = tensor(info.get("alpha"))
    return cls(tuple(info["shape"]), **params, **kwargs)


# ------------------------------------------------------------------------------- export
def _inv(one_minus: np.ndarray, what: str, name: str) -> np.ndarray:
    if np.any(one_minus <= 0) or np.any(one_minus > 1):
        raise NIRError(f"layer {name!r}: the decay {what} must lie in [0, 1) to be written as a "
                       f"NIR time constant, got 1 - {what} in "
                       f"[{one_minus.min():g}, {one_minus.max():g}]")
    return one_minus


def check_exportable(module: N.NeuronBase, name: str, strict: bool) -> None:
    """Raise (or, with ``strict=False``, warn) for neuron semantics NIR cannot express."""
    model = module.model
    if model.has_adapt:
        raise NIRError(f"layer {name!r} is an ALIF (adaptive threshold), which NIR 1.0 cannot "
                       "express (no adaptive-threshold node); export is not possible")
    kind = "I" if isinstance(module, Integrator) else model.name
    if model.spiking:
        problems = []
        if module.cfg.reset != "zero":
            problems.append(f"reset={module.cfg.reset!r} (NIR resets to v_reset: use reset='zero')")
        if module.cfg.ge:
            problems.append("threshold_op='>=' (NIR fires when v > v_threshold: use "
                            "threshold_op='>')")
        if problems:
            text = f"layer {name!r} ({kind}) uses " + " and ".join(problems)
            if strict:
                raise NIRError(text + "; pass strict=False to export the nearest NIR node (other "
                               "tools will simulate it differently; neuro re-imports it exactly "
                               "from the node metadata)")
            warnings.warn(text + "; exported as the nearest NIR node, exact semantics kept in "
                          "metadata['neuro'] only", NIRExportWarning, stacklevel=4)


def neuron_fields(module: N.NeuronBase, features: Shape, dt: float, name: str) -> tuple[
        str, dict[str, np.ndarray], dict]:
    """``(nir type, fields, metadata)`` of a neuro neuron for NIR's Euler step at ``dt``
    (call :func:`check_exportable` first)."""
    model = module.model
    kind = "I" if isinstance(module, Integrator) else model.name
    co = discrete_coefficients(module, features)
    p = module.parameters_physical
    full = lambda v: np.broadcast_to(  # noqa: E731
        np.asarray(_value(v) if not isinstance(v, np.ndarray) else v, dtype=np.float64),
        features).copy()
    euler_here = p.beta is None and p.alpha is None and p.integration == "euler" and p.dt == dt
    fields: dict[str, np.ndarray] = {}
    if model.leaky:
        if euler_here:
            tau = full(p.tau_mem)
            r = full(p.r) if p.decay_input else full(p.r) * tau / dt
            v_leak = full(p.v_leak)
        else:
            one_m = _inv(1 - co["beta"], "beta", name)
            tau, r, v_leak = dt / one_m, co["gv"] / one_m, co["c"] / one_m
        if model.has_syn:
            fields.update(tau_mem=tau)
            if euler_here:
                tau_syn = full(p.tau_syn)
                w_in = full(p.w_in) if p.decay_input else full(p.w_in) * tau_syn / dt
            else:
                one_a = _inv(1 - co["alpha"], "alpha", name)
                tau_syn, w_in = dt / one_a, co["gi"] / one_a
            fields.update(tau_syn=tau_syn, w_in=w_in)
        else:
            fields.update(tau=tau)
        fields.update(r=r, v_leak=v_leak)
    else:  # IF and I: v += dt * R * I
        fields.update(r=co["gv"] / dt)
    if model.spiking:
        fields.update(v_threshold=co["th"], v_reset=co["vr"])
    return NIR_TYPE[kind], fields, {"neuro": neuro_metadata(module, dt)}


# ------------------------------------------------------------------------------- import
_RENAME = MappingProxyType({"tau": "tau_mem", "v_threshold": "v_th"})
_CLASS_OF = MappingProxyType({"I": Integrator, "IF": N.IF, "LIF": N.LIF, "LI": N.LI,
                              "CubaLIF": N.CubaLIF, "CubaLI": N.CubaLI})


def arg_of(v: Any) -> Any:
    """A Python float when ``v`` is uniform (the kernels' scalar fast path), else a tensor."""
    flat = np.asarray(v, dtype=np.float64).reshape(-1)
    if flat.size and np.all(flat == flat[0]):
        return float(flat[0])
    return torch.tensor(np.asarray(v, dtype=np.float64))


def set_exact(module: N.NeuronBase, values: dict[str, Any], dtype: torch.dtype) -> N.NeuronBase:
    """Give per-neuron buffers their values in ``dtype`` (modules store the default dtype)."""
    for key, v in values.items():
        if key in module._buffers:
            module._buffers[key] = torch.tensor(np.asarray(v, dtype=np.float64), dtype=dtype)
    return module


def neuron_from_fields(kind: str, fields: dict[str, np.ndarray], dt: float, backend: str,
                       name: str, dtype: torch.dtype = torch.float32) -> N.NeuronBase:
    """The neuro module that runs NIR node ``kind`` with Euler steps of ``dt``."""
    cls = _CLASS_OF.get(kind)
    if cls is None:
        raise NIRError(f"node {name!r}: {kind} is not a neuron type")
    values = {_RENAME.get(k, k): np.asarray(v, dtype=np.float64) for k, v in fields.items()}
    shape = tuple(values["r"].shape)
    options: dict[str, Any] = dict(dt=dt, backend=backend)
    if kind in ("I", "IF"):  # v' = R I  ->  v += (R dt) I
        values["r"] = values["r"] * dt
    else:
        options.update(integration="euler", decay_input=True)
    if kind in ("IF", "LIF", "CubaLIF"):
        options.update(reset="zero", threshold_op=">")
    try:
        module = cls(shape, **{k: arg_of(v) for k, v in values.items()}, **options)
    except ValueError as err:  # tau <= 0, tau < dt (negative Euler decay), ...
        raise NIRError(f"node {name!r} ({kind}): {err}") from None
    return set_exact(module, values, dtype)


def same_dynamics(a: N.NeuronBase, b: N.NeuronBase, features: Shape, rtol: float = 1e-5) -> bool:
    """Whether two neurons have the same discrete coefficients (up to float32 parameter rounding)."""
    if a.model != b.model:
        return False
    ca, cb = discrete_coefficients(a, features), discrete_coefficients(b, features)
    rows = ("alpha", "gi", "beta", "gv", "c") + (("th", "vr") if a.model.spiking else ())
    return all(np.allclose(ca[k], cb[k], rtol=rtol, atol=1e-12) for k in rows)


def metadata_module(meta: dict, fallback: N.NeuronBase, features: Shape, backend: str,
                    name: str, dtype: torch.dtype = torch.float32) -> N.NeuronBase | None:
    """The exact neuro neuron recorded in ``meta["neuro"]`` if it agrees with the NIR fields."""
    text = meta.get("neuro")
    if not isinstance(text, str):
        return None
    try:
        module = module_from_metadata(text, backend, dtype)
    except (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError):
        warnings.warn(f"node {name!r}: unreadable metadata['neuro'] ignored", NIRExportWarning,
                      stacklevel=4)
        return None
    if same_dynamics(module, fallback, features):
        return module
    if json.loads(text).get("export_dt") == fallback.dt:
        warnings.warn(f"node {name!r}: metadata['neuro'] disagrees with the NIR fields (edited by "
                      "another tool?); using the NIR fields", NIRExportWarning, stacklevel=4)
    return None

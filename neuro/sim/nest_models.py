r"""Spec neuron populations exported to NEST (part of :func:`neuro.sim.to_nest`).

==================================  ============================================================
neuro                               NEST
==================================  ============================================================
``Izhikevich`` (delta channels,     ``izhikevich`` (``consistent_integration=True``): the same
no refractory period)               stepping as neuro's (``neuro.kernels.izhikevich_math``); a
                                    delta weight ``w`` (one step of input ``x``) is the jump ``h w``
                                    (``h = dt / 1 ms``), delay ``(d + 1) h``
``AdEx`` / ``ExpIF``                ``aeif_psc_delta`` (delta channels: jump ``h w / C_m`` mV),
                                    ``aeif_cond_exp`` / ``aeif_cond_alpha`` (conductance channels,
                                    nS; the higher reversal potential is ``g_ex``); parameters by
                                    the same names (NEST's units), ``t_ref``, ``I_e`` = bias
==================================  ============================================================

The Izhikevich mapping is step for step up to the rounding of the input's addition; AdEx is
statistical (NEST integrates it with adaptive RKF45, neuro with forward Euler; noted, refused with
``strict=True``). Not exported: user-defined spec models, exponential current channels into spec
models, Izhikevich with a refractory period or with other constants than NEST's (0.04, 5, 140,
ms), state monitors of spec populations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from neuro.functional.spec import initial_state
from neuro.sim.build import refractory_steps
from neuro.sim.groups import CURRENT_CHANNEL, SPEC_MODELS, CurrentInput, SpecPopulation
from neuro.sim.nest_common import S_TO_MS
from neuro.sim.nest_common import PopulationMap as _PopulationMap
from neuro.sim.nest_common import note_approximation as _approx
from neuro.sim.values import resolve

if TYPE_CHECKING:  # pragma: no cover
    from neuro.sim.network import Network

NEST_IZHIKEVICH = {"sq": 0.04, "mn": 5.0, "bias": 140.0, "time_unit": 1e-3}
ADEX_NAMES = ("C_m", "g_L", "E_L", "V_th", "Delta_T", "V_reset", "V_peak")


def spec_values(net: Network, pop: SpecPopulation,
                rng: np.random.Generator) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """Per-neuron float64 values of ``pop`` as the build draws them (same generator, same order):
    ``ref_steps``, ``input_bias`` (the population's bias, constant currents included; not the
    Izhikevich parameter ``bias``), the model's parameters, ``y0`` (initial states by name)."""
    n, dt = pop.n, net.dt
    refr = resolve(pop.refractory, n, f"{pop.name}.refractory", rng)
    out = {"ref_steps": refractory_steps(refr, dt),
           "input_bias": resolve(pop.bias, n, f"{pop.name}.bias", rng)}
    values = pop.spec_values(rng)
    tensors = {k: torch.from_numpy(v) for k, v in values.items()}
    y0 = [t.numpy().copy() for t in initial_state(pop.model, tensors, torch.zeros(n, dtype=torch.float64))]
    for row, state in enumerate(pop.model.states):
        if state in pop.init:
            y0[row] = resolve(pop.init[state], n, f"{pop.name}.init[{state!r}]", rng)
    for inp in net._groups:
        if isinstance(inp, CurrentInput) and inp.constant and inp.target.group is pop:
            out["input_bias"][inp.target.indices] += inp.values[0]
    return {**out, **values, "y0": dict(zip(pop.model.states, y0))}


def map_spec_population(net: Network, pop: SpecPopulation, used: set[str], rng: np.random.Generator,
                        problems: list[str], notes: list[str], strict: bool) -> _PopulationMap | None:
    """The ``_PopulationMap`` of a spec population (module docstring), or None with ``problems``."""
    who = f"Population {pop.name!r} ({pop.model.name})"
    builtin = next((name for name, spec in SPEC_MODELS.items() if spec is pop.model), None)
    if builtin is None:
        problems.append(f"{who}: a user-defined spec model has no NEST equivalent")
        return None
    if pop.threshold_op != ">=":
        _approx(notes, problems, strict, f"{who}: threshold_op='>' exports as NEST's '>='")
    val = spec_values(net, pop, rng)
    n, h = pop.n, net.dt
    if np.any(val["time_unit"] != 1e-3):
        problems.append(f"{who}: time_unit must be 1e-3 (ms, NEST's unit) to export")
        return None
    h_ms = h / 1e-3
    delta = [ch for ch in used if ch in pop.synapses and pop.synapses[ch] == 0]
    exp_cur = [ch for ch in used if pop.synapses.get(ch, 0) > 0 and ch not in pop.reversal]
    if exp_cur:
        problems.append(f"{who}: exponential current channels {sorted(exp_cur)} into {pop.model.name} have "
                        "no NEST equivalent here (use delta or conductance channels)")
        return None
    base = {"I_e": val["input_bias"], "V_m": val["y0"]["v"], "t_ref": val["ref_steps"] * h * S_TO_MS}
    factor, shift, receptor = {}, {}, {}
    if builtin == "Izhikevich":
        off = [k for k, v in NEST_IZHIKEVICH.items() if np.any(val[k] != v)]
        if off or (val["ref_steps"] > 0).any() or pop.reversal:
            problems.append(f"{who}: NEST's izhikevich has the constants {NEST_IZHIKEVICH}, no refractory "
                            f"period and delta synapses only (here: {off or ''} refractory "
                            f"{bool((val['ref_steps'] > 0).any())}, conductances {sorted(pop.reversal)})")
            return None
        del base["t_ref"]
        base.update(a=val["a"], b=val["b"], c=val["c"], d=val["d"], V_th=val["v_th"], U_m=val["y0"]["u"],
                    consistent_integration=np.ones(n, bool))
        model = "izhikevich"
        for ch in delta:
            receptor[ch], shift[ch], factor[ch] = 0, 1, np.full(n, h_ms)
    else:
        base.update({k: val[k] for k in ADEX_NAMES})
        if builtin == "AdEx":
            base.update(a=val["a"], b=val["b"], tau_w=val["tau_w"], w=val["y0"]["w"])
        else:  # ExpIF: AdEx without adaptation
            base.update(a=np.zeros(n), b=np.zeros(n))
        if pop.reversal and delta:
            problems.append(f"{who}: delta channels {sorted(delta)} next to conductance channels: no NEST "
                            "model")
            return None
        if pop.reversal:
            model = _conductances(pop, base, factor, shift, receptor, problems)
            if model is None:
                return None
        else:
            model = "aeif_psc_delta"
            for ch in delta:
                receptor[ch], shift[ch], factor[ch] = 0, 1, h_ms / val["C_m"]
        _approx(notes, problems, strict, f"{who}: NEST integrates {model} with adaptive RKF45, neuro AdEx "
                "with forward Euler: statistically equivalent, not step for step")
    if CURRENT_CHANNEL in used:
        receptor[CURRENT_CHANNEL] = 0
    params = [{k: (bool(v[j]) if v.dtype == bool else float(v[j])) for k, v in base.items()}
              for j in range(n)]
    return _PopulationMap(model, params, receptor, factor, shift, {}, {}, np.ones(n))


def _conductances(pop: SpecPopulation, base: dict, factor: dict, shift: dict, receptor: dict,
                  problems: list) -> str | None:
    """``aeif_cond_exp`` / ``aeif_cond_alpha``: weights in nS as in neuro; NEST wants ``g_in``'s negative."""
    shapes = {pop.shapes.get(ch, "exp") for ch in pop.reversal}
    if len(pop.reversal) > 2 or len(shapes) > 1:
        problems.append(f"Population {pop.name!r}: NEST's aeif_cond_* have one excitatory and one inhibitory "
                        f"conductance of one shape, not {sorted(pop.reversal)} ({sorted(shapes)})")
        return None
    order = sorted(pop.reversal, key=lambda ch: -pop.reversal[ch])
    roles = {order[0]: "ex"} if len(order) == 1 else {order[0]: "ex", order[1]: "in"}
    if len(order) == 1 and pop.reversal[order[0]] < float(np.max(base["E_L"])):
        roles = {order[0]: "in"}
    for ch, role in roles.items():
        base[f"E_{role}"] = np.full(pop.n, pop.reversal[ch])
        base[f"tau_syn_{role}"] = np.full(pop.n, pop.synapses[ch] * S_TO_MS)
        receptor[ch], shift[ch] = 0, 0
        factor[ch] = np.full(pop.n, 1.0 if role == "ex" else -1.0)
    return f"aeif_cond_{shapes.pop()}"

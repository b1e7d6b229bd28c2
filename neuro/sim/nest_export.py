r"""Export a :class:`neuro.sim.Network` to NEST 3 (PyNEST), for runs that outgrow one machine.

``to_nest(net)`` creates the network's neurons, inputs, synapses and recorders in NEST's kernel
and returns a :class:`NestNetwork`; ``nest_net.run(seconds)`` simulates, and ``nest_net[monitor]``
reads what a neuro monitor would have recorded, in neuro's conventions (seconds, volts, step
indices, indices in the monitored group). NEST itself distributes the same script over MPI
processes (``mpirun -np 4 python script.py``) and threads (``threads=``); see the README section
"From a laptop to a cluster". Don't run neuro's Numba kernels and NEST in one process: their two
OpenMP runtimes crash together (build and export freely, simulate in one of them).

Mapping (neuro SI units -> NEST's ms, mV, pA, pF; ``h = dt``)

==================================  ============================================================
neuro                               NEST
==================================  ============================================================
``LIF``/``IF``, exponential         ``iaf_psc_exp_multisynapse``, one receptor (``1, 2, ...``) per
channels                            channel, ``tau_syn`` = the channel's time constant
``LIF``/``IF``, delta channels      ``iaf_psc_delta`` (weight = the membrane jump in mV)
``CubaLIF`` (delta channels)        ``iaf_psc_exp_multisynapse``, ``tau_syn`` = ``tau_syn``
                                    (approximate, see below)
``ALIF`` (delta channels, no        ``eprop_iaf_psc_delta_adapt`` (Bellec's threshold, as neuro's:
refractory period)                  ``adapt_beta = beta_adapt (1 - rho)``, ``adaptation = a / (1 - rho)``)
``tau_mem``, ``r``                  ``tau_m``; ``C_m = tau_m (1 - beta) / g_v`` (``= tau_mem / r``
                                    with the defaults ``integration="exact"``, ``decay_input=True``)
``v_leak, v_th, v_reset, v_init``   ``E_L, V_th, V_reset, V_m``
``bias`` + constant currents        ``I_e``
``refractory`` (``R`` steps)        ``t_ref = (R - 1) h``: neuro holds ``v`` for ``R - 1`` steps
                                    after the spike step, NEST clamps it for ``t_ref``
delay ``d`` steps onto an           ``d h`` (exact); NEST's minimum delay is ``h``, so neuro's zero
exponential channel                 delay (Brian2's default) acts one step later: ``max(d, 1) h``
delay ``d`` onto a delta channel    ``(d + 1) h`` (exact: NEST adds a delta input in the step it
                                    arrives, neuro in the step after)
``PoissonInput``                    ``poisson_generator`` -> one ``parrot_neuron`` per source (every
                                    target of a source sees the same train, as in neuro)
``SpikeSource``                     one ``spike_generator`` per element; a spike of step ``k`` at
                                    ``(k + 1) h``; feeding a plastic projection: generator at
                                    ``k h`` -> ``parrot_neuron`` (delay ``h``; step 0 is dropped)
``CurrentInput`` (per step)         one ``step_current_generator`` per target neuron
``SpikeMonitor``, ``RateMonitor``   ``spike_recorder`` (a spike at NEST time ``(k + 1) h`` is step ``k``)
``StateMonitor`` (``v``,            ``multimeter`` (``V_m``, ``I_syn_<receptor>``) every ``every``
``g_<exponential channel>``)        from ``h`` on (NEST records from the second interval on)
``STDP`` projections                ``stdp_synapse`` (``pairing="all"``, ``w_min = 0``; NEST's
                                    delay is dendritic, neuro's axonal: ``_stdp_to_nest``)
static projections                  ``static_synapse`` (``connectivity="exact"``: neuro's drawn
                                    synapses, one ``Connect`` of arrays; ``"rules"``: NEST's own
                                    ``all_to_all``, ``pairwise_bernoulli``, ``fixed_indegree``)
==================================  ============================================================

Exactness. NEST integrates the subthreshold dynamics exactly, as neuro does with
``integration="exact"`` (and ``decay_input=True``): with exponential channels the membrane gain per
unit of channel current is the same propagator in both, and the traces of a deterministic network
(spike sources, delays of at least one step) agree to float64 rounding (``tests/test_sim_nest_export``
checks 1e-9). The mapping stays exact for every linear choice neuro offers, because it is done per
step: ``integration="euler"`` exports ``tau_m = -h / ln(beta)`` and weights scaled so that a spike
moves the membrane as in neuro, ``decay_input=False`` likewise; ``delta_synapse="jump"`` and
``"current"`` map to the jump ``g_v kappa w``. Where they differ: neuro's zero delay onto an
exponential channel (one step later in NEST, noted in ``NestNetwork.notes``), the threshold (neuro
``v > v_th`` by default, NEST ``v >= v_th``: equal unless ``v`` lands exactly on it), Poisson trains
(statistically the same, drawn by NEST's generator), ``CubaLIF`` (neuro steps the current with the
membrane update, NEST integrates the pair exactly: an O(dt / tau) difference; the bias becomes the
steady-state ``I_e``; initial currents are not exported), a time-varying current's first two steps
(NEST changes amplitudes at ``t > 0`` only, one step before they act: dropped). ``strict=True``
raises on every such approximation instead.

Conductance channels of LIF populations: ``iaf_cond_exp`` / ``iaf_cond_alpha``, statistically
equivalent (``benchmarks/coba_brian2.py --nest``). Spec populations (``AdEx``, ``ExpIF``,
``Izhikevich``): :mod:`neuro.sim.nest_models`. No NEST equivalent (the error names each
part): ``ALIF`` with exponential channels or a refractory period (NEST's ALIF, the e-prop neuron,
has delta synapses only and skips the threshold's jump after spikes in a refractory period; its
e-prop machinery stays idle with static synapses), reset modes other than ``"zero"``, a population
with both delta and exponential channels in use, a channel time constant equal to ``tau_mem``
(``iaf_psc_exp_multisynapse`` refuses it), astrocytes and their projections, ``DistanceProbability``
with ``connectivity="rules"``, state variables other than ``v`` and exponential channel currents.

Extension point for plastic synapses: a projection with a plasticity rule (``proj.plasticity``, the
plasticity issue) exports through an exporter registered with :func:`register_plasticity_export`
(``rule type -> NestSynapse``: the NEST synapse model such as ``stdp_synapse``, its parameters in
NEST units, parameters the rule needs on the post-synaptic neurons such as ``tau_minus``). The
exporter gets the neuro -> NEST weight factor of the projection, so bounds like ``Wmax`` convert
with the weights. A :class:`~neuro.sim.WeightMonitor` on such a projection becomes NEST's
``weight_recorder`` (one record per transmitted spike, NEST's convention; ``nest_net[monitor]`` gives
``pre``/``post`` group indices, ``steps`` and ``weights`` in neuro's units); on a static projection it
is not exported (the weights cannot change).

Plasticity rules exported (each checked against NEST on a spike-timing protocol,
``tests/test_sim_nest_plasticity.py``): ``STDP`` -> ``stdp_synapse``; ``TripletSTDP``
(all-to-all) -> ``stdp_triplet_synapse``; ``InhibitorySTDP`` -> ``vogels_sprekeler_synapse``;
``TsodyksMarkram`` (static weight) -> ``tsodyks_synapse`` with ``tau_psc -> 0``. The weight rules
see the delay as NEST does (dendritic: a pair is timed ``t_post + d - t_pre``, neuro's ``t_post -
(t_pre + d)``; on a delta channel NEST's ``d`` is one step longer), so the same spike trains give
the same weight changes when the post-synaptic spikes in NEST come ``2 d`` (delta channels: ``2 d +
1`` steps) earlier; NEST transmits the weight after a presynaptic event's update (neuro: before it),
and a pre and a post event at the same time (as each simulator times them) pair differently.
``RewardSTDP`` has no NEST equivalent (``stdp_dopamine_synapse`` is driven by a volume
transmitter's spikes, neuro's modulator is a value the user sets), nor have
``TripletSTDP(pairing="nearest")``, ``w_min != 0`` and ``TsodyksMarkram(weight_rule=...)``:
:func:`to_nest` names them in its ``NestExportError``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from neuro.functional import lif as F
from neuro.kernels import lif_math
from neuro.sim.astrocytes import AstrocytePopulation
from neuro.sim.build import refractory_steps
from neuro.sim.connectivity import AllToAll, FixedInDegree, FixedProbability, FromList
from neuro.sim.groups import (
    CURRENT_CHANNEL,
    CurrentInput,
    PoissonInput,
    Population,
    SpecPopulation,
    SpikeSource,
    View,
)
from neuro.sim.monitors import RateMonitor, SpikeMonitor, StateMonitor, WeightMonitor
from neuro.sim.nest_common import A_TO_PA, F_TO_PF, S_TO_MS, S_TO_NS, V_TO_MV
from neuro.sim.nest_common import PopulationMap as _PopulationMap
from neuro.sim.nest_common import note_approximation as _approx
from neuro.sim.nest_results import NestNetwork
from neuro.sim.plasticity import STDP, InhibitorySTDP, RewardSTDP, TripletSTDP, TsodyksMarkram
from neuro.sim.projections import Projection
from neuro.sim.values import Normal, Uniform, is_scalar, resolve

if TYPE_CHECKING:  # pragma: no cover
    from neuro.sim.network import Network

_RULES = (AllToAll, FixedProbability, FixedInDegree, FromList)  # connectors NEST can draw itself
IF_TAU_STEPS = 1e12  # a non-leaky IF exports with tau_m = 1e12 steps (decay 1 - 1e-12 per step)


class NestExportError(ValueError):
    """Parts of a network that have no NEST equivalent (each line names one)."""


@dataclass
class NestSynapse:
    """How a projection's synapses are made in NEST (what a plasticity exporter returns).

    ``model``: a NEST synapse model (``"static_synapse"``, ``"stdp_synapse"`` ...); ``params``: its
    parameters in NEST units (given to ``nest.CopyModel``); ``post_params``: parameters the rule
    needs on the post-synaptic neurons (``{"tau_minus": 20.0}``).
    """

    model: str = "static_synapse"
    params: dict = field(default_factory=dict)
    post_params: dict = field(default_factory=dict)


#: plasticity rule type -> ``exporter(rule, projection, weight_factor) -> NestSynapse``
PLASTICITY_EXPORTERS: dict[type, Callable[[Any, Projection, float], NestSynapse]] = {}


def register_plasticity_export(rule_type: type, exporter: Callable[[Any, Projection, float], NestSynapse]
                               ) -> None:
    """Teach :func:`to_nest` to export projections whose ``plasticity`` is a ``rule_type``.

    ``exporter(rule, projection, weight_factor)`` returns a :class:`NestSynapse`; ``weight_factor``
    (NEST weight per neuro weight, the same for every synapse of the projection) converts weight
    bounds and steps into NEST's units.
    """
    if not isinstance(rule_type, type) or not callable(exporter):
        raise TypeError("register_plasticity_export needs a rule type and a callable exporter")
    PLASTICITY_EXPORTERS[rule_type] = exporter


# -- the neurons: values replayed exactly as neuro draws them -------------------------------------
def _group_rng(net: Network, obj: object) -> np.random.Generator:
    """The generator neuro's build gives ``obj`` (seeded by the network seed and its position)."""
    order = net._groups + net._projections
    k = next(i for i, o in enumerate(order) if o is obj)
    return np.random.default_rng([net.seed, k])


def _full(value: object, n: int) -> np.ndarray:
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value, np.float64)
    return np.broadcast_to(np.asarray(arr, np.float64).ravel() if np.ndim(arr) else arr, (n,)).copy()


def population_values(net: Network, pop: Population) -> dict[str, np.ndarray]:
    """Per-neuron float64 values of ``pop`` as neuro draws them (same generator, same order as the
    network build): ``tau_mem, tau_syn, v_th, v_reset, v_leak, beta, gv, alpha, gi, ref_steps,
    bias`` (constant currents included), ``v0, i0``."""
    rng, n, dt = _group_rng(net, pop), pop.n, net.dt
    params = pop.neuron_parameters(dt, rng)
    coef = F.coefficients(pop.model, params, (n,), torch.float64, torch.device("cpu")).numpy()
    coef = np.broadcast_to(coef, (lif_math.N_PARAMS, n))
    out = {key: _full(getattr(params, key), n) for key in ("tau_mem", "tau_syn", "v_th", "v_reset", "v_leak")}
    out.update(beta=coef[lif_math.P_BETA].copy(), gv=coef[lif_math.P_GV].copy(),
               alpha=coef[lif_math.P_ALPHA].copy(), gi=coef[lif_math.P_GI].copy())
    refr = resolve(pop.refractory, n, f"{pop.name}.refractory", rng)
    out["ref_steps"] = refractory_steps(refr, dt)
    out["bias"] = resolve(pop.bias, n, f"{pop.name}.bias", rng)
    out["v0"] = (out["v_leak"].copy() if pop.v_init is None
                 else resolve(pop.v_init, n, f"{pop.name}.v_init", rng))
    out["i0"] = resolve(pop.i_init, n, f"{pop.name}.i_init", rng)
    out["a0"] = resolve(pop.a_init, n, f"{pop.name}.a_init", rng)
    out.update(tau_adapt=_full(params.tau_adapt, n), rho=coef[lif_math.P_RHO].copy(),
               beta_adapt=coef[lif_math.P_BA].copy())
    for inp in net._groups:  # constant currents fold into the bias, as in the build
        if isinstance(inp, CurrentInput) and inp.constant and inp.target.group is pop:
            out["bias"][inp.target.indices] += inp.values[0]
    return out


def _p31(tau_m: np.ndarray, tau_s, c_m: np.ndarray, h: float) -> np.ndarray:
    """Exact membrane gain over one step per unit of an exponential current at the step's start
    (NEST's propagator; SI units; ``tau_s`` a number or one value per neuron)."""
    tau_s = np.asarray(tau_s, np.float64)
    em, es = np.exp(-h / tau_m), np.exp(-h / tau_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = tau_m * tau_s / (tau_m - tau_s) * (em - es) / c_m
    return np.where(np.isclose(tau_m, tau_s, rtol=1e-6, atol=0.0), h / c_m * em, gain)


def _used_channels(net: Network, pop: Population) -> set:
    used = {p.target for p in net._projections if p.post.group is pop and p.kind == "spike"}
    if any(isinstance(g, CurrentInput) and not g.constant and g.target.group is pop for g in net._groups):
        used.add(CURRENT_CHANNEL)
    return used


def _map_population(net: Network, pop: Population, problems: list, notes: list, strict: bool
                    ) -> _PopulationMap | None:
    who = f"Population {pop.name!r} ({pop.model.name})"
    if isinstance(pop, SpecPopulation):  # AdEx, ExpIF, Izhikevich: neuro.sim.nest_models
        from neuro.sim.nest_models import map_spec_population

        return map_spec_population(net, pop, _used_channels(net, pop), _group_rng(net, pop), problems, notes,
                                   strict)
    if pop.reset != "zero":
        problems.append(f"{who}: reset={pop.reset!r} has no NEST equivalent (NEST sets v = V_reset)")
        return None
    if pop.adaptive_threshold is not None:  # not mapped (theta_init, K): refuse rather than export it wrong
        problems.append(f"{who}: adaptive_threshold (Diehl & Cook's theta) has no NEST export yet")
        return None
    used = _used_channels(net, pop)
    delta_ch = [ch for ch in pop.synapses if ch in used and pop.synapses[ch] == 0]
    exp_used = [ch for ch in pop.synapses if ch in used and pop.synapses[ch] > 0]
    if exp_used and delta_ch:
        problems.append(f"{who}: delta channels {delta_ch} and exponential channels {exp_used} are both in "
                        "use; "
                        "no NEST model has both (iaf_psc_delta or iaf_psc_exp_multisynapse)")
        return None
    # every exponential channel gets a receptor (recordable even when unused), unless delta ones are used
    exp_ch = [] if delta_ch else [ch for ch in pop.synapses if pop.synapses[ch] > 0]
    if pop.model.has_adapt and exp_used:
        problems.append(f"{who}: exponential channels {exp_used} into ALIF: NEST's ALIF "
                        "(eprop_iaf_psc_delta_adapt) has delta synapses only")
        return None
    if pop.model.has_syn and exp_used:
        problems.append(f"{who}: exponential channels {exp_ch} into CubaLIF filter twice; no NEST model does")
        return None
    val = population_values(net, pop)
    n, h = pop.n, net.dt
    if (val["gv"] <= 0).any():
        problems.append(f"{who}: r must be > 0 to export (NEST's C_m = tau_m / r)")
        return None
    if pop.integration != "exact" or not pop.decay_input:
        _approx(notes, problems, strict, f"{who}: integration={pop.integration!r}, "
                f"decay_input={pop.decay_input} exports as the equivalent exact model "
                "(tau_m = -dt / ln beta, weights scaled per step)", exact=True)
    if pop.model.leaky:
        tau_m = val["tau_mem"] if pop.integration == "exact" else -h / np.log(val["beta"])
        one_minus_beta = 1.0 - val["beta"]
    else:
        tau_m = np.full(n, IF_TAU_STEPS * h)
        one_minus_beta = -np.expm1(-h / tau_m)
    c_m = tau_m * one_minus_beta / val["gv"]  # farads: the bias moves v by g_v per step, as in neuro
    base = dict(E_L=val["v_leak"] * V_TO_MV if pop.model.leaky else val["v_reset"] * V_TO_MV,
                V_th=val["v_th"] * V_TO_MV, V_reset=val["v_reset"] * V_TO_MV, V_m=val["v0"] * V_TO_MV,
                tau_m=tau_m * S_TO_MS, C_m=c_m * F_TO_PF, t_ref=val["ref_steps"] * h * S_TO_MS,
                I_e=val["bias"] * A_TO_PA)
    if (val["v_reset"] >= val["v_th"]).any():
        problems.append(f"{who}: NEST needs v_reset < v_th")
        return None
    factor, g_factor, shift, receptor = {}, {}, {}, {}
    current = np.full(n, A_TO_PA)
    if pop.reversal:
        model = _map_conductances(pop, used, base, factor, shift, receptor, problems, notes, strict)
        if model is None:
            return None
        exp_ch = []
    elif pop.model.has_syn:  # CubaLIF: the input drives the current i, which drives v
        _approx(notes, problems, strict, f"{who}: CubaLIF exports to iaf_psc_exp_multisynapse, which "
                "integrates "
                "current and membrane exactly (neuro steps them: an O(dt/tau_syn) difference); the bias "
                "becomes its steady-state I_e, initial currents are not exported")
        tau_s = val["tau_syn"] if pop.integration == "exact" else -h / np.log(val["alpha"])
        steady = val["gi"] / (1.0 - val["alpha"])  # i per unit of constant input
        base["I_e"] = val["bias"] * steady * A_TO_PA
        current = steady * A_TO_PA
        model = "iaf_psc_exp_multisynapse"
        per_step = _p31(tau_m, tau_s, c_m, h)
        for ch in delta_ch:
            receptor[ch], shift[ch] = 1, 0
            factor[ch] = val["gv"] * val["gi"] / per_step * A_TO_PA
        base["tau_syn"] = [[float(t) * S_TO_MS] for t in tau_s]
    elif exp_ch:
        model = "iaf_psc_exp_multisynapse"
        exact_kappa = pop.integration == "exact" and pop.decay_input and pop.model.leaky
        taus = []
        for k, ch in enumerate(exp_ch):
            tau_c = pop.synapses[ch]
            if np.isclose(tau_m, tau_c, rtol=1e-9).any():
                problems.append(f"{who}: channel {ch!r} has tau = tau_mem = {tau_c:g} s, which "
                                "iaf_psc_exp_multisynapse refuses")
                return None
            receptor[ch], shift[ch] = k + 1, 0
            p31 = _p31(tau_m, tau_c, c_m, h)
            # neuro's gain per unit g at the step's start is g_v kappa: exactly p31 with its exact kappa
            ratio = np.ones(n) if exact_kappa else val["gv"] / p31
            factor[ch] = ratio * A_TO_PA
            g_factor[ch] = 1.0 / factor[ch]
            taus.append(tau_c * S_TO_MS)
        base["tau_syn"] = [taus] * n
    else:
        model = "iaf_psc_delta"
        if pop.model.has_adapt:
            # neuro: threshold v_th + b a_{t-1}, a_t = rho a_{t-1} + (1 - rho) s_t; NEST: V_th + beta a'_t,
            # a'_t = rho a'_{t-1} + z_{t-1} (decayed before use): a' = a / (1 - rho), beta = b (1 - rho),
            # and the initial a' one decay ahead
            if (val["ref_steps"] > 0).any():
                problems.append(f"{who}: refractory periods longer than one step: NEST's ALIF "
                                "(eprop_iaf_psc_delta_adapt) does not raise its threshold after such spikes")
                return None
            model = "eprop_iaf_psc_delta_adapt"
            rho = val["rho"]
            tau_a = val["tau_adapt"] if pop.integration == "exact" else -h / np.log(rho)
            base.update(adapt_tau=tau_a * S_TO_MS,
                        adapt_beta=val["beta_adapt"] * (1.0 - rho) * V_TO_MV,
                        adaptation=val["a0"] / ((1.0 - rho) * rho))
        for ch in delta_ch:
            receptor[ch], shift[ch] = 0, 1
            kappa = 1.0 / val["gv"] if pop.delta_synapse == "jump" else 1.0
            factor[ch] = val["gv"] * kappa * V_TO_MV  # the jump of v in mV
    if CURRENT_CHANNEL in used:
        receptor[CURRENT_CHANNEL] = 0
    params = [{key: (v[j] if isinstance(v, list) else float(v[j])) for key, v in base.items()}
              for j in range(n)]
    return _PopulationMap(model, params, receptor, factor, shift, g_factor,
                          {ch: pop.synapses[ch] for ch in exp_ch}, current)


def _map_conductances(pop: Population, used: set, base: dict, factor: dict, shift: dict, receptor: dict,
                      problems: list, notes: list, strict: bool) -> str | None:
    """Conductance channels as NEST's ``iaf_cond_exp`` / ``iaf_cond_alpha`` (one excitatory and one
    inhibitory conductance: the channel with the higher reversal potential is ``g_ex``, the other
    ``g_in``, whose weights NEST wants negative). With ``C_m = tau_m / r`` NEST's leak conductance is
    ``1 / r``, so a neuro conductance ``g`` (relative to the leak with ``r = 1``, siemens with ``r``
    in ohms) is ``g`` siemens in NEST; the integration differs (NEST: adaptive RKF45; neuro: the
    conductance current held over each step), a statistical equivalence (noted)."""
    who = f"Population {pop.name!r} ({pop.model.name})"
    others = sorted(ch for ch in used if ch not in pop.reversal and ch != CURRENT_CHANNEL)
    shapes = {pop.shapes.get(ch, "exp") for ch in pop.reversal}
    if len(pop.reversal) > 2 or others or len(shapes) > 1 or pop.model.has_adapt:
        problems.append(f"{who}: NEST's iaf_cond_exp/iaf_cond_alpha have one excitatory and one inhibitory "
                        "conductance of one shape and no other synapses: channels "
                        f"{sorted(pop.reversal)} (shapes {sorted(shapes)}) with {others or 'no'} other "
                        f"channels in use{' into ALIF' if pop.model.has_adapt else ''} cannot be exported")
        return None
    base["g_L"] = base["C_m"] / base.pop("tau_m")  # pF / ms = nS: NEST's cond models take g_L, not tau_m
    order = sorted(pop.reversal, key=lambda ch: -pop.reversal[ch])
    if len(order) == 1:
        e_l = float(np.max(base["E_L"]))
        roles = {order[0]: "ex" if pop.reversal[order[0]] * V_TO_MV >= e_l else "in"}
    else:
        roles = {order[0]: "ex", order[1]: "in"}
    for ch, role in roles.items():
        base[f"E_{role}"] = np.full(pop.n, pop.reversal[ch] * V_TO_MV)
        base[f"tau_syn_{role}"] = np.full(pop.n, pop.synapses[ch] * S_TO_MS)
        receptor[ch], shift[ch] = 0, 0
        factor[ch] = np.full(pop.n, (1.0 if role == "ex" else -1.0) * S_TO_NS)
    _approx(notes, problems, strict, f"{who}: conductance channels export to NEST's iaf_cond_{shapes.pop()}, "
            "which integrates them with an adaptive solver (neuro holds the conductance current over each "
            "step): statistically equivalent, not step for step")
    return "iaf_cond_alpha" if "alpha" in {pop.shapes.get(ch) for ch in roles} else "iaf_cond_exp"


# -- NEST side ------------------------------------------------------------------------------------
def _import_nest():
    os.environ.setdefault("PYNEST_QUIET", "1")  # no banner
    try:
        import nest
    except ImportError as err:  # pragma: no cover - exercised only without NEST
        raise ImportError("to_nest needs NEST 3 and PyNEST: pip install nest-simulator (in the dev extra)"
                          ) from err
    if hasattr(nest, "VerbosityLevel"):
        nest.verbosity = nest.VerbosityLevel.ERROR
    else:  # pragma: no cover - NEST < 3.9
        nest.set_verbosity("M_ERROR")
    return nest


def _nest_call(what: str, fn: Callable, *args, **kwargs):
    """A NEST call whose error names the neuro part being exported."""
    try:
        return fn(*args, **kwargs)
    except Exception as err:
        if isinstance(err, NestExportError):
            raise
        raise NestExportError(f"NEST rejected {what}: {err}") from err


def _node_ids(nodes) -> np.ndarray:
    return np.asarray(nodes.tolist(), dtype=np.int64)


def _lookup(ids: np.ndarray, size: int | None = None) -> np.ndarray:
    """``table[ids[k]] == k`` (-1 elsewhere)."""
    table = np.full(int(ids.max(initial=0)) + 1 if size is None else size, -1, np.int64)
    table[ids] = np.arange(ids.size)
    return table


def _check_support(net: Network, connectivity: str, problems: list) -> None:
    for g in net._groups:
        if isinstance(g, AstrocytePopulation):
            problems.append(f"AstrocytePopulation {g.name!r}: astrocytes into neuro's LIF neurons have no "
                            "NEST "
                            "equivalent (NEST's SIC only drives aeif_cond_alpha_astro)")
    for p in net._projections:
        if p.kind != "spike":
            problems.append(f"Projection {p.name!r} ({p.kind}): astrocyte projections are not exported")
        elif connectivity == "rules" and not isinstance(p.connector, _RULES):
            problems.append(f"Projection {p.name!r}: {type(p.connector).__name__} has no NEST rule here; "
                            "use connectivity='exact'")
        rule = getattr(p, "plasticity", None)
        if isinstance(rule, STDP) and (rule.pairing != "all" or rule.w_min != 0.0):
            problems.append(f"Projection {p.name!r}: STDP pairing={rule.pairing!r}, w_min={rule.w_min:g} is "
                            "not exported (stdp_synapse: pairing 'all' and w_min = 0 only)")
        if rule is not None and _plasticity_exporter(rule) is None:
            problems.append(f"Projection {p.name!r}: plasticity {type(rule).__name__} has no NEST export "
                            "(register one with neuro.sim.nest_export.register_plasticity_export)")


def _check_monitors(net: Network, maps: dict, problems: list) -> None:
    for m in net._monitors:
        if isinstance(m, StateMonitor) and isinstance(m.population, SpecPopulation):
            problems.append(f"StateMonitor {m.name!r}: the states of spec population {m.population.name!r} "
                            "are not exported (spikes and rates are)")
        elif isinstance(m, StateMonitor) and isinstance(m.population, Population) and maps.get(m.population):
            pmap = maps[m.population]
            for var in m.variables:
                ok = var == "v" or (var.startswith("g_") and var[2:] in pmap.g_factor)
                if not ok:
                    problems.append(f"StateMonitor {m.name!r}: variable {var!r} of {m.population.name!r} is "
                                    "not "
                                    "exported (v and the currents of exponential channels are)")


def _stdp_to_nest(rule: STDP, proj: Projection, factor: float) -> NestSynapse:
    """:class:`~neuro.sim.STDP` (``pairing="all"``) as NEST's ``stdp_synapse``: ``Wmax = w_max``,
    ``lambda = A_plus / w_max``,
    ``alpha = A_minus / A_plus``, ``mu_plus = mu_minus`` = 0 (additive) or 1 (multiplicative), in
    NEST's weight units (``factor``). NEST counts the whole delay as dendritic: it times a pair as
    ``t_post + d - t_pre`` where neuro (axonal) takes ``t_post - (t_pre + d)``."""
    who = f"Projection {proj.name!r}"
    if rule.pairing != "all":  # stdp_nn_symm_synapse depresses differently in the spike-pair test
        raise NestExportError(f"{who}: STDP pairing={rule.pairing!r} is not exported (only 'all', as "
                              "stdp_synapse; NEST's nearest-neighbour models pair spikes differently)")
    if rule.w_min != 0.0:
        raise NestExportError(f"{who}: STDP w_min = {rule.w_min:g}: NEST's stdp_synapse bounds weights at 0")
    if factor <= 0 or rule.w_max <= 0:
        raise NestExportError(f"{who}: STDP exports with positive weights and w_max only (NEST's Wmax)")
    if rule.A_plus == 0.0 and rule.A_minus > 0.0:
        raise NestExportError(f"{who}: STDP with A_plus = 0 has no NEST form (alpha = A_minus / A_plus)")
    mu = 1.0 if rule.weight_dependence == "multiplicative" else 0.0
    alpha = rule.A_minus / rule.A_plus if rule.A_plus else 0.0
    params = {"tau_plus": rule.tau_plus * S_TO_MS, "lambda": rule.A_plus / rule.w_max, "alpha": alpha,
              "mu_plus": mu, "mu_minus": mu, "Wmax": rule.w_max * factor}
    return NestSynapse("stdp_synapse", params, {"tau_minus": rule.tau_minus * S_TO_MS})


PLASTICITY_EXPORTERS[STDP] = _stdp_to_nest


# -- the other plasticity rules: one registered exporter each (tests/test_sim_nest_plasticity.py) ----
def _positive_bounds(rule: object, proj: Projection, factor: float, model: str) -> None:
    """NEST's plastic synapses bound ``|w|`` to ``[0, Wmax]`` with the sign of ``Wmax``: neuro's rule
    must have ``w_min = 0 < w_max`` and a positive weight factor."""
    who, name = f"Projection {proj.name!r}", type(rule).__name__
    if rule.w_min != 0.0:
        raise NestExportError(f"{who}: {name} w_min = {rule.w_min:g}: NEST's {model} bounds weights at 0")
    if factor <= 0 or rule.w_max <= 0:
        raise NestExportError(f"{who}: {name} exports with positive weights and w_max only (NEST's Wmax)")


def _triplet_to_nest(rule: TripletSTDP, proj: Projection, factor: float) -> NestSynapse:
    """:class:`~neuro.sim.TripletSTDP` (``pairing="all"``, ``w_min = 0``) as NEST's
    ``stdp_triplet_synapse``: ``tau_plus``, ``tau_plus_triplet = tau_x``, ``Aplus = A2_plus``,
    ``Aplus_triplet = A3_plus``, ``Aminus = A2_minus``, ``Aminus_triplet = A3_minus``, ``Wmax = w_max``
    (amplitudes and bound in NEST's weight units); on the post-synaptic neurons ``tau_minus`` and
    ``tau_minus_triplet = tau_y``. NEST's equations are neuro's (its ``Kplus``, ``Kplus_triplet``,
    ``Kminus``, ``Kminus_triplet`` are :math:`r_1, r_2, o_1, o_2`, the triplet traces taken just before
    the spike), evaluated lazily at each presynaptic spike; the delay is dendritic in NEST (a pair is
    timed ``t_post + d - t_pre``), axonal in neuro (``t_post - (t_pre + d)``)."""
    if rule.pairing != "all":
        raise NestExportError(f"Projection {proj.name!r}: TripletSTDP pairing='nearest' is not exported "
                              "(NEST's stdp_triplet_synapse adds up its traces, all-to-all; the "
                              "nearest-spike model is NESTML's stdp_triplet_nn, not built into NEST)")
    _positive_bounds(rule, proj, factor, "stdp_triplet_synapse")
    params = {"tau_plus": rule.tau_plus * S_TO_MS, "tau_plus_triplet": rule.tau_x * S_TO_MS,
              "Aplus": rule.A2_plus * factor, "Aplus_triplet": rule.A3_plus * factor,
              "Aminus": rule.A2_minus * factor, "Aminus_triplet": rule.A3_minus * factor,
              "Wmax": rule.w_max * factor}
    return NestSynapse("stdp_triplet_synapse", params,
                       {"tau_minus": rule.tau_minus * S_TO_MS, "tau_minus_triplet": rule.tau_y * S_TO_MS})


def _vogels_to_nest(rule: InhibitorySTDP, proj: Projection, factor: float) -> NestSynapse:
    """:class:`~neuro.sim.InhibitorySTDP` (``w_min = 0``) as NEST's ``vogels_sprekeler_synapse``:
    ``tau``, ``eta`` (NEST's weight units), ``alpha = 2 rho0 tau``, ``Wmax = w_max``; the
    post-synaptic trace is the neurons' ``tau_minus = tau``. NEST applies a presynaptic event as
    ``w = min(w + eta y, Wmax)`` then ``w = max(w - eta alpha, 0)`` (neuro clips once:
    ``clip(w + eta (y - alpha))``; equal unless ``w + eta y`` passes ``w_max``)."""
    _positive_bounds(rule, proj, factor, "vogels_sprekeler_synapse")
    params = {"tau": rule.tau * S_TO_MS, "eta": rule.eta * factor, "alpha": rule.alpha,
              "Wmax": rule.w_max * factor}
    return NestSynapse("vogels_sprekeler_synapse", params, {"tau_minus": rule.tau * S_TO_MS})


#: ``tau_psc`` (ms) of the exported ``tsodyks_synapse``: its active resources decay at once into the
#: recovering ones, leaving neuro's two-state model (the exact limit; the remainder is of relative size
#: ``tau_psc / tau_rec``: 1e-14 / ``tau_rec`` in ms, at rounding level for ``tau_rec`` of 1 ms or more)
TSODYKS_TAU_PSC_MS = 1e-14


def _tsodyks_to_nest(rule: TsodyksMarkram, proj: Projection, factor: float) -> NestSynapse:
    """:class:`~neuro.sim.TsodyksMarkram` (static weight) as NEST's ``tsodyks_synapse`` with a
    vanishing ``tau_psc``: ``U``, ``tau_rec = tau_d``, ``tau_fac = tau_f`` (0: none, in both), from
    ``u = 0, x = 1, y = 0``. At a spike after ``h`` NEST sets ``u = u e^{-h/tau_fac}``, ``u += U (1 -
    u)``, ``x = 1 - (1 - x) e^{-h/tau_rec}`` (``tau_psc -> 0``), delivers ``w u x`` and sets ``x -= u
    x``: the same recursion as neuro's (whose ``u`` relaxes to ``U`` and jumps after the spike), so the
    delivered efficacies agree to rounding. Not ``tsodyks2_synapse``: in NEST 3.10.0 it delivers first
    and then relaxes over the interval that just ended, so spike ``n + 1`` gets the state relaxed over
    ``(t_{n-1}, t_n]`` instead of ``(t_n, t_{n+1}]`` (measured; see nest-simulator PR 3384, which
    reworks that update). ``quantal_stp_synapse`` draws release sites at random. A
    :class:`~neuro.sim.WeightMonitor` on the projection records, in NEST, the delivered ``w u x``
    (NEST's ``weight_recorder`` sees the transmitted weight)."""
    if rule.weight_rule is not None:
        raise NestExportError(f"Projection {proj.name!r}: TsodyksMarkram with weight_rule="
                              f"{type(rule.weight_rule).__name__} is not exported (no NEST synapse model "
                              "combines short-term plasticity with a long-term rule)")
    params = {"U": rule.U, "u": 0.0, "x": 1.0, "y": 0.0, "tau_psc": TSODYKS_TAU_PSC_MS,
              "tau_rec": rule.tau_d * S_TO_MS, "tau_fac": rule.tau_f * S_TO_MS}
    return NestSynapse("tsodyks_synapse", params)


def _reward_to_nest(rule: RewardSTDP, proj: Projection, factor: float) -> NestSynapse:
    """Registered only to name the reason: :class:`~neuro.sim.RewardSTDP` has no NEST equivalent."""
    raise NestExportError(
        f"Projection {proj.name!r}: RewardSTDP has no NEST equivalent: NEST's stdp_dopamine_synapse takes "
        "its modulator n from spikes of a volume_transmitter (n jumps by 1/tau_n per spike and decays), "
        "neuro's is the value M(t) of a Neuromodulator that the user sets or schedules (piecewise "
        "constant, changeable between runs); NEST also integrates dw/dt = c (n - b) exactly between "
        "events and clips only at spikes, neuro sums eta c M dt per step and clips every step")


register_plasticity_export(TripletSTDP, _triplet_to_nest)
register_plasticity_export(InhibitorySTDP, _vogels_to_nest)
register_plasticity_export(TsodyksMarkram, _tsodyks_to_nest)
register_plasticity_export(RewardSTDP, _reward_to_nest)


def _plasticity_problems(net: Network, maps: dict, problems: list) -> None:
    """Every plastic projection's exporter called before NEST is touched: its refusals join
    ``problems``, and so do post-synaptic parameters (``tau_minus``, ...) that two projections onto
    one population need with different values (NEST keeps one value per neuron)."""
    needs: dict = {}  # population -> {parameter: (value, projection name)}
    for proj in net._projections:
        rule, m = getattr(proj, "plasticity", None), maps.get(proj.post.group)
        exporter = _plasticity_exporter(rule) if rule is not None else None
        if exporter is None or m is None or proj.target not in m.factor:
            continue  # no rule, already listed by _check_support, or the population has a problem
        if isinstance(rule, STDP) and any(f"Projection {proj.name!r}: STDP" in text for text in problems):
            continue  # STDP forms already refused by _check_support
        factor = np.asarray(m.factor[proj.target], np.float64)
        try:
            spec = exporter(rule, proj, float(factor[0]) if np.ptp(factor) == 0 else float(factor.mean()))
        except NestExportError as err:
            problems.append(str(err))
            continue
        seen = needs.setdefault(proj.post.group, {})
        for key, value in spec.post_params.items():
            if key in seen and not np.isclose(seen[key][0], value, rtol=1e-12, atol=0.0):
                problems.append(f"Projection {proj.name!r}: its rule needs {key} = {value:g} ms on "
                                f"Population {proj.post.group.name!r}, projection {seen[key][1]!r} needs "
                                f"{seen[key][0]:g} ms (NEST keeps one value per neuron)")
            seen.setdefault(key, (value, proj.name))


def _plasticity_exporter(rule: object) -> Callable | None:
    for cls in type(rule).__mro__:
        if cls in PLASTICITY_EXPORTERS:
            return PLASTICITY_EXPORTERS[cls]
    return None


def to_nest(net: Network, *, connectivity: str = "exact", strict: bool = False, threads: int | None = None,
            reset_kernel: bool = True, record_to: str = "memory") -> NestNetwork:
    """Create ``net`` in NEST's kernel and return a :class:`NestNetwork` (module docstring: mapping).

    Args:
        net: a network of supported parts; everything unsupported is listed in one
            :class:`NestExportError` before NEST is touched.
        connectivity: ``"exact"`` (neuro's drawn synapses and current weights: the same network;
            every MPI process holds the whole synapse list while connecting) or ``"rules"`` (NEST
            draws with its own rules from the projections' descriptions, in parallel: statistically
            the same network, for networks too big for one machine; nothing is drawn in neuro).
        strict: raise on approximations instead of noting them in ``NestNetwork.notes``.
        threads: NEST's ``local_num_threads`` (default: NEST's default, one thread per process).
        reset_kernel: start from a fresh NEST kernel (resolution ``dt``, seed from ``net.seed``).
        record_to: the recorders' backend: ``"memory"`` (read with ``nest_net[monitor]``) or
            ``"ascii"`` (files, one per virtual process, for MPI runs).
    """
    from neuro.sim.network import Network

    if not isinstance(net, Network):
        raise TypeError(f"to_nest exports a neuro.sim.Network, got {type(net).__name__}")
    if connectivity not in ("exact", "rules"):
        raise ValueError(f"connectivity must be 'exact' or 'rules', got {connectivity!r}")
    if record_to not in ("memory", "ascii"):
        raise ValueError(f"record_to must be 'memory' or 'ascii', got {record_to!r}")
    h_ms = net.dt * S_TO_MS
    if abs(h_ms * 1e3 - round(h_ms * 1e3)) > 1e-6 * h_ms * 1e3:
        raise NestExportError(f"dt = {net.dt:g} s is not a whole number of microseconds (NEST's default tic)")
    problems, notes = [], []
    _check_support(net, connectivity, problems)
    maps = {p: _map_population(net, p, problems, notes, strict)
            for p in net._groups if isinstance(p, Population)}
    _check_monitors(net, maps, problems)
    _plasticity_problems(net, maps, problems)
    if problems:
        raise NestExportError("these parts have no NEST equivalent:\n  " + "\n  ".join(problems))
    nest = _import_nest()
    if reset_kernel:
        nest.ResetKernel()
    status = {"resolution": h_ms, "rng_seed": net.seed % (2 ** 31 - 2) + 1}
    if threads is not None:
        status["local_num_threads"] = int(threads)
    _nest_call("the kernel settings", nest.SetKernelStatus, status)
    out = NestNetwork(nest, net)
    out.notes = notes
    _create_groups(net, nest, maps, out, strict)
    for proj in net._projections:
        _connect(net, nest, proj, maps[proj.post.group], out, connectivity, strict)
    _create_recorders(net, nest, maps, out, record_to)
    return out


def _create_groups(net: Network, nest, maps: dict, out: NestNetwork, strict: bool) -> None:
    h_ms = net.dt * S_TO_MS
    for g in net._groups:
        if isinstance(g, Population):
            m = maps[g]
            nodes = _nest_call(f"Population {g.name!r}", nest.Create, m.model, g.n)
            _nest_call(f"the parameters of Population {g.name!r}", nodes.set, m.params)
            out.nodes[g] = nodes
        elif isinstance(g, PoissonInput):
            rates = resolve(g.rates, g.n, f"{g.name}.rates", _group_rng(net, g))
            parrots = _nest_call(f"PoissonInput {g.name!r}", nest.Create, "parrot_neuron", g.n)
            if np.ptp(rates) == 0:  # one generator: every parrot gets its own train
                gen = nest.Create("poisson_generator", params={"rate": float(rates[0])})
                nest.Connect(gen, parrots, "all_to_all", syn_spec={"delay": h_ms})
            else:
                gen = nest.Create("poisson_generator", g.n, params=[{"rate": float(r)} for r in rates])
                nest.Connect(gen, parrots, "one_to_one", syn_spec={"delay": h_ms})
            out.nodes[g] = parrots
        elif isinstance(g, SpikeSource):
            steps = np.floor(g.times / net.dt + 0.5).astype(np.int64)
            times = [np.unique(steps[g.spike_indices == i]) for i in range(g.n)]
            if not _feeds_plastic(net, g):
                gens = _nest_call(f"SpikeSource {g.name!r}", nest.Create, "spike_generator", g.n,
                                  params=[{"spike_times": ((s + 1) * h_ms).tolist()} for s in times])
                out.nodes[g] = gens
                continue
            # NEST's plastic synapses need a neuron as source: generator -> parrot (delay h), the
            # generator one step earlier, so the parrots spike at (k + 1) h as a generator would
            if any(s.size and s[0] == 0 for s in times):
                _approx(out.notes, [], False, f"SpikeSource {g.name!r}: spikes of step 0 are dropped (it "
                        "feeds "
                        "a plastic projection, so it goes through parrot neurons, one step behind)")
                if strict:
                    raise NestExportError(f"SpikeSource {g.name!r}: spikes of step 0 feed a plastic "
                                          "projection "
                                          "(strict=True)")
            gens = _nest_call(f"SpikeSource {g.name!r}", nest.Create, "spike_generator", g.n,
                              params=[{"spike_times": (s[s > 0] * h_ms).tolist()} for s in times])
            parrots = nest.Create("parrot_neuron", g.n)
            nest.Connect(gens, parrots, "one_to_one", syn_spec={"delay": h_ms})
            out.nodes[g] = parrots
    for g in net._groups:  # time-varying currents, once the target neurons exist
        if isinstance(g, CurrentInput) and not g.constant:
            _inject(net, nest, g, maps[g.target.group], out, strict)


def _feeds_plastic(net: Network, group) -> bool:
    """Whether ``group`` is the source of a projection with a plasticity rule."""
    return any(p.pre.group is group and getattr(p, "plasticity", None) is not None for p in net._projections)


def _inject(net: Network, nest, g: CurrentInput, m: _PopulationMap, out: NestNetwork, strict: bool) -> None:
    """One step_current_generator per target neuron: neuro's current of step ``t`` acts in NEST's
    update ``t`` when set at ``(t - 1) h`` with the minimum delay ``h``."""
    h_ms = net.dt * S_TO_MS
    series = g.per_step(net.dt, max(len(g.values), 1) if g.value_dt is None else
                        int(math.ceil(len(g.values) * g.value_dt / net.dt)) + 1)
    if np.abs(series[:2]).max(initial=0.0) > 0:
        _approx(out.notes, [], False, f"CurrentInput {g.name!r}: the values of the first two steps are not "
                "exported (NEST changes amplitudes at t > 0 only, one step before they act)")
        if strict:
            raise NestExportError(f"CurrentInput {g.name!r}: the first two steps carry current (strict=True)")
    targets = out.nodes[g.target.group][g.target.indices.tolist()] if isinstance(g.target, View) else \
        out.nodes[g.target.group]
    ids = _node_ids(targets)
    scale = m.current_factor[g.target.indices]
    params = []
    for j in range(ids.size):
        col = np.append(series[:, j], 0.0) * scale[j]  # zero after the last sample
        # the generator starts at 0 and can change from step 2 on (time h): the levels of steps >= 2
        change = np.flatnonzero(np.diff(np.r_[0.0, col[2:]]) != 0) + 2
        params.append({"amplitude_times": ((change - 1) * h_ms).tolist(),
                       "amplitude_values": col[change].tolist()})
    gens = _nest_call(f"CurrentInput {g.name!r}", nest.Create, "step_current_generator", ids.size,
                      params=params)
    nest.Connect(gens, targets, "one_to_one", syn_spec={"delay": h_ms})


def _synapse_model(nest, proj: Projection, factor: float, out: NestNetwork, weight_recorder=None) -> str:
    """``static_synapse``, or a copy of the NEST model a registered plasticity exporter names."""
    rule = getattr(proj, "plasticity", None)
    if rule is None:
        return "static_synapse"
    spec = _plasticity_exporter(rule)(rule, proj, factor)
    out._models += 1
    name = f"neuro_synapse_{out._models}"
    params = dict(spec.params)
    if weight_recorder is not None:
        params["weight_recorder"] = weight_recorder
    _nest_call(f"the synapse model of {proj.name!r}", nest.CopyModel, spec.model, name, params)
    if spec.post_params:
        post = out.nodes[proj.post.group]
        _nest_call(f"the post-synaptic parameters of {proj.name!r}", post.set, spec.post_params)
    return name


def _delays(d: np.ndarray, shift: int, proj: Projection, out: NestNetwork, strict: bool) -> np.ndarray:
    steps = d + shift
    if (steps < 1).any():
        text = (f"Projection {proj.name!r}: zero delays onto an exponential channel act one step later in "
                "NEST "
                "(its minimum delay is one step)")
        if strict:
            raise NestExportError(text + " (strict=True)")
        if text not in out.notes:
            out.notes.append(text)
        steps = np.maximum(steps, 1)
    return steps


def _connect(net: Network, nest, proj: Projection, m: _PopulationMap, out: NestNetwork, connectivity: str,
             strict: bool) -> None:
    h_ms = net.dt * S_TO_MS
    ch, pre_nodes, post_nodes = proj.target, out.nodes[proj.pre.group], out.nodes[proj.post.group]
    factor_post = m.factor[ch]
    recorder = None
    if any(isinstance(mon, WeightMonitor) and mon.projection is proj for mon in net._monitors) \
            and getattr(proj, "plasticity", None) is not None:
        recorder = nest.Create("weight_recorder")
        # node ids -> indices in the pre / post groups, and NEST weight per neuro weight per post neuron
        extra = (_lookup(_node_ids(pre_nodes)), _lookup(_node_ids(post_nodes)), factor_post)
        out._recorders.update({mon: ("weights", recorder, extra) for mon in net._monitors
                               if isinstance(mon, WeightMonitor) and mon.projection is proj})
    uniform = float(factor_post[0]) if np.ptp(factor_post) == 0 else None
    model = _synapse_model(nest, proj, uniform if uniform is not None else float(factor_post.mean()), out,
                           recorder)
    syn = {"synapse_model": model}
    if m.receptor[ch]:
        syn["receptor_type"] = m.receptor[ch]
    if connectivity == "exact" or isinstance(proj.connector, FromList):
        if net._compiled is not None:  # built (maybe run): the current weights
            pre, post = net.connections(proj)
            w = net.get_weights(proj)
            d = net.compiled.table(proj.kind).delay[net._table_positions(proj)].astype(np.int64)
        else:  # the same draw as the build's, one projection at a time
            drawn = proj.synapses(net.dt, _group_rng(net, proj))
            proj._drawn_order = None
            pre, post, w, d = drawn.pre, drawn.post, drawn.weight, drawn.delay
        w = w * factor_post[post]
        steps = _delays(d, m.shift[ch], proj, out, strict)
        src, tgt = _node_ids(pre_nodes)[pre], _node_ids(post_nodes)[post]
        syn.update(weight=w, delay=steps * h_ms)
        if "receptor_type" in syn:
            syn["receptor_type"] = np.full(src.size, m.receptor[ch], np.int64)
        if src.size:
            _nest_call(f"the synapses of {proj.name!r}", nest.Connect, src, tgt, "one_to_one", syn)
        return
    if uniform is None:
        raise NestExportError(f"Projection {proj.name!r}: its target neurons differ in parameters, so the "
                              "weights "
                              "scale per neuron; use connectivity='exact'")
    pre_sub = pre_nodes[sorted(proj.pre.indices.tolist())] if isinstance(proj.pre, View) else pre_nodes
    post_sub = post_nodes[sorted(proj.post.indices.tolist())] if isinstance(proj.post, View) else post_nodes
    syn["weight"] = _nest_value(nest, proj.weight, uniform, proj, "weight")
    syn["delay"] = _nest_delay(nest, proj, m.shift[ch], net.dt, out, strict)
    c = proj.connector
    allow = bool(getattr(c, "allow_self", True))
    if isinstance(c, AllToAll):
        rule = {"rule": "all_to_all", "allow_autapses": allow}
    elif isinstance(c, FixedProbability):
        rule = {"rule": "pairwise_bernoulli", "p": float(c.p), "allow_autapses": allow}
    else:
        rule = {"rule": "fixed_indegree", "indegree": int(c.k), "allow_autapses": allow,
                "allow_multapses": False}
    _nest_call(f"the synapses of {proj.name!r}", nest.Connect, pre_sub, post_sub, rule, syn)


def _nest_value(nest, spec, factor: float, proj: Projection, what: str):
    """A scalar or a distribution of neuro values as NEST values (times ``factor``)."""
    if is_scalar(spec):
        return float(spec) * factor
    if isinstance(spec, Uniform):
        lo, hi = sorted((spec.low * factor, spec.high * factor))
        return nest.random.uniform(min=lo, max=hi)
    if isinstance(spec, Normal) and not (np.isfinite(spec.low) or np.isfinite(spec.high)):
        return nest.random.normal(mean=spec.mean * factor, std=spec.std * abs(factor))
    raise NestExportError(f"Projection {proj.name!r}: {what} {type(spec).__name__} has no NEST rule value "
                          "(scalars, Uniform and unbounded Normal do); use connectivity='exact'")


def _nest_delay(nest, proj: Projection, shift: int, dt: float, out: NestNetwork, strict: bool):
    spec = proj.delay
    h_ms = dt * S_TO_MS
    if is_scalar(spec):
        steps = _delays(np.array([int(math.floor(float(spec) / dt + 0.5))]), shift, proj, out, strict)
        return float(steps[0]) * h_ms
    if isinstance(spec, Uniform):
        lo = math.floor(spec.low / dt + 0.5) + shift
        if lo < 1:
            _delays(np.array([lo - shift]), shift, proj, out, strict)
        return nest.random.uniform(min=max(spec.low * S_TO_MS + shift * h_ms, h_ms),
                                   max=max(spec.high * S_TO_MS + shift * h_ms, h_ms))
    raise NestExportError(f"Projection {proj.name!r}: delay {type(spec).__name__} has no NEST rule value "
                          "(scalars and Uniform do); use connectivity='exact'")


def _create_recorders(net: Network, nest, maps: dict, out: NestNetwork, record_to: str) -> None:
    h_ms = net.dt * S_TO_MS
    for mon in net._monitors:
        if isinstance(mon, (SpikeMonitor, RateMonitor)):
            source = mon.source if isinstance(mon, SpikeMonitor) else mon.population
            group = source.group
            nodes = out.nodes[group]
            watched = nodes[source.indices.tolist()] if isinstance(source, View) else nodes
            rec = nest.Create("spike_recorder", params={"record_to": record_to})
            nest.Connect(watched, rec)
            index_of = _lookup(_node_ids(nodes))  # node id -> index in the group
            extra = (index_of, group.n) if isinstance(mon, SpikeMonitor) else group.n
            out._recorders[mon] = ("spikes" if isinstance(mon, SpikeMonitor) else "rate", rec, extra)
        elif isinstance(mon, StateMonitor):
            pop, m = mon.population, maps[mon.population]
            unique = np.unique(mon.indices)
            nodes = out.nodes[pop][unique.tolist()]
            every = mon.every_steps(net.dt)
            cols = np.searchsorted(unique, mon.indices)
            # NEST's V_m at (t + 1) h is neuro's v of step t; its I_syn at (t + 1) h already holds the
            # spikes neuro adds at the start of step t + 1, so neuro's g of step t + 1 is alpha I_syn(t):
            # the currents are read one step earlier (offset 0) and decayed once
            groups: dict[float, list] = {}
            for var in mon.variables:
                if var == "v":
                    groups.setdefault(h_ms, []).append(("v", "V_m", np.full(unique.size, 1.0 / V_TO_MV)))
                else:
                    ch = var[2:]
                    alpha = math.exp(-net.dt / m.tau_syn[ch])
                    groups.setdefault(0.0, []).append(
                        (var, f"I_syn_{m.receptor[ch]}", m.g_factor[ch][unique] * alpha))
            meters = []
            for offset, recordables in groups.items():
                mm = nest.Create("multimeter", params={"interval": every * h_ms, "offset": offset,
                                                       "record_from": [r[1] for r in recordables],
                                                       "record_to": record_to})
                nest.Connect(mm, nodes)
                meters.append((mm, recordables, -1 if offset else 0))  # event time -> neuro step
            out._recorders[mon] = ("states", meters, (_lookup(_node_ids(nodes)), cols))

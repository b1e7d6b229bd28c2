"""Pieces shared by the NEST export of :mod:`neuro.sim.nest_export` and the spec-model mappings of
:mod:`neuro.sim.nest_models`: unit factors (neuro's SI units -> NEST's), the per-population map and how
an approximation is noted or refused."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

S_TO_MS, V_TO_MV, A_TO_PA, F_TO_PF = 1e3, 1e3, 1e12, 1e12
S_TO_NS = 1e9  # siemens -> nS


@dataclass
class PopulationMap:
    """One population in NEST: model, node parameters and, per channel, how weights convert."""

    model: str
    params: list  # one dict per neuron
    receptor: dict  # channel -> receptor_type
    factor: dict  # channel -> per-neuron NEST weight per neuro weight
    shift: dict  # channel -> steps added to neuro's delay
    g_factor: dict  # exponential channel -> per-neuron neuro g per NEST pA (recording)
    tau_syn: dict  # exponential channel -> time constant (s)
    current_factor: np.ndarray  # NEST pA per unit of neuro injected current


def note_approximation(notes: list, problems: list, strict: bool, text: str, exact: bool = False) -> None:
    """An approximation (or an exact re-expression, ``exact=True``) of the export, noted or refused."""
    if exact:
        notes.append(text)
    elif strict:
        problems.append(text + " (strict=True)")
    else:
        notes.append(text)

"""Shared helpers for the tests of the neuron-description machinery (``neuro.ops.spec``): the QIF
example, random runs on every backend, and float64 gradcheck of the smooth outputs."""

from __future__ import annotations

import torch

from neuro.kernels.neuron_spec import NeuronSpec, build
from neuro.ops.spec import SpecConfig, spec_scan


def qif_step(s, x, p):
    """SpikingJelly's QIFNode charge: ``v + (x + a0 (v - v_rest)(v - v_c)) / tau``."""
    return {"v": s.v + (x + p.a0 * (s.v - p.v_rest) * (s.v - p.v_c)) / p.tau}


#: the documentation's user-defined neuron (SpikingJelly's QIFNode defaults)
QIF = NeuronSpec("QIF", states={"v": "v_rest"},
                 parameters={"tau": 2.0, "a0": 1.0, "v_rest": 0.0, "v_c": 0.8, "v_th": 1.0, "v_reset": -0.1},
                 step=qif_step, threshold=lambda s, p: s.v - p.v_th, reset=lambda s, p: {"v": p.v_reset},
                 positive=("tau",))


def table(spec: NeuronSpec, values: dict, C: int, dtype, gen: torch.Generator, jitter: float = 0.02):
    """``[P, C]`` rows of ``spec`` (derived coefficients from ``values`` too), each column jittered."""
    from neuro.functional.spec import coefficient_table

    base = coefficient_table(spec, {**spec.parameters, **values}, 1e-3, (), dtype, torch.device("cpu"))
    return base.repeat(1, C) * (1 + jitter * torch.rand(base.shape[0], C, dtype=dtype, generator=gen))


def run(spec, x, prm, y0, cfg: SpecConfig, backend: str, dt: float = 1e-3, seed: int = 0,
        device: str = "cpu"):
    """Outputs and gradients (of a loss on spikes, every recorded state and the final states) of
    one scan on ``backend``; all tensors are returned on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    leaves = [t.detach().clone().to(device).requires_grad_() for t in (x, prm, y0)]
    res = spec_scan(spec, *leaves, cfg, dt, record=True, backend=backend)
    ws = torch.randn(res.spikes.shape, dtype=x.dtype, generator=gen).to(device)
    wr = torch.randn(res.rec.shape, dtype=x.dtype, generator=gen).to(device)
    loss = (res.spikes * ws).sum() + (res.rec * wr).sum() * 1e-3 + res.last.sum() * 1e-3
    loss.backward()
    return [t.detach().cpu() for t in (res.spikes, res.rec, res.last)], [t.grad.cpu() for t in leaves]


def smooth_outputs(spec, cfg: SpecConfig, backend: str, dt: float = 1e-3):
    """The outputs a finite difference can check: every state and the final states (with
    ``detach_reset`` the spikes enter them as constants)."""
    def f(x, prm, y0):
        res = spec_scan(spec, x, prm, y0, cfg, dt, record=True, backend=backend)
        return res.rec, res.last
    return f


def model_of(spec):
    return build(spec)

"""Shared helpers for the AM-SU tests: random cases and kernel-vs-reference runs with gradients."""

from __future__ import annotations

import numpy as np
import torch

from lif_cases import random_prm
from neuro.kernels import amsu_math
from neuro.ops.amsu import AMSUConfig, Domains, amsu_scan
from neuro.surrogate import ATan

# (has_syn, reset)
STRUCTURES = [(False, "subtract"), (False, "zero"), (False, "none"), (True, "subtract"), (True, "zero")]
LABELS = np.array([0, 2, 0, 1, 1, 2, 0, 3, 1, 2])  # 10 neurons, 4 domains, interleaved, sizes 3/3/3/1


def structure_id(s) -> str:
    return ("CubaAMSU" if s[0] else "AMSU") + "-" + s[1]


def make_case(structure, T: int = 9, B: int = 3, dtype=torch.float64, seed: int = 0, P: int = 10,
              ge: bool = True, surrogate=ATan(), detach_reset: bool = False, labels=LABELS):
    has_syn, reset = structure
    gen = torch.Generator().manual_seed(seed)
    dom = Domains.from_labels(labels)
    F, D = dom.n, dom.D
    cfg = AMSUConfig(reset=reset, ge=ge, detach_reset=detach_reset, surrogate=surrogate,
                     has_syn=has_syn)
    x = torch.randn(T, B, F, dtype=dtype, generator=gen) * 0.6 + 0.35
    prm = random_prm(has_syn, False, P, dtype, gen)
    aprm = torch.stack([
        0.6 + 0.35 * torch.rand(D, dtype=dtype, generator=gen),       # gamma
        0.1 + 0.4 * torch.rand(D, dtype=dtype, generator=gen),        # K
        torch.randn(D, dtype=dtype, generator=gen) * 0.5,             # kappa_g
        torch.randn(D, dtype=dtype, generator=gen) * 0.3,             # kappa_th
        torch.randn(D, dtype=dtype, generator=gen) * 0.3])            # kappa_I
    assert aprm.shape[0] == amsu_math.N_ASTRO_PARAMS
    i0 = torch.randn(B, F, dtype=dtype, generator=gen) * 0.1 if has_syn else torch.zeros(B, F, dtype=dtype)
    v0 = torch.rand(B, F, dtype=dtype, generator=gen) * 0.8
    a0 = torch.rand(B, D, dtype=dtype, generator=gen) * 0.5
    return cfg, dom, x, prm, aprm, i0, v0, a0


def loss_of(res, has_syn: bool, weights: dict):
    """A loss touching every output (fixed weights, so both backends see the same function)."""
    loss = (res.spikes * weights["s"]).sum() + (res.v_last * weights["v"]).sum() + \
        (res.a_last ** 2).sum()
    if res.v_seq is not None:
        loss = loss + (res.v_seq * weights["vs"]).sum() + (res.a_seq * weights["as"]).sum()
        if has_syn:
            loss = loss + (res.i_seq * weights["is"]).sum()
    if has_syn:
        loss = loss + (res.i_last ** 2).sum()
    return loss


def run(case, backend: str, record: bool = True, device: str = "cpu"):
    """Outputs and gradients w.r.t. ``x, prm, aprm, i0, v0, a0`` on one backend."""
    cfg, dom, x, prm, aprm, i0, v0, a0 = case
    inputs = [t.detach().clone().to(device).requires_grad_() for t in (x, prm, aprm, i0, v0, a0)]
    res = amsu_scan(*inputs[:3], dom, *inputs[3:], cfg, record=record, backend=backend)
    gen = torch.Generator().manual_seed(123)
    w = {k: torch.randn(res.spikes.shape, generator=gen, dtype=x.dtype).to(device)
         for k in ("s", "vs", "is")}
    w["v"] = torch.randn(res.v_last.shape, generator=gen, dtype=x.dtype).to(device)
    w["as"] = torch.randn(tuple(res.spikes.shape[:2]) + (dom.D,), generator=gen, dtype=x.dtype).to(device)
    grads = torch.autograd.grad(loss_of(res, cfg.has_syn, w), inputs, allow_unused=True)
    if not cfg.has_syn:
        grads = grads[:3] + (None,) + grads[4:]
    return res, grads

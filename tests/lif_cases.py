"""Shared helpers for the LIF-family tests: random coefficient tables and kernel-vs-reference runs."""

from __future__ import annotations

import torch

from neuro.kernels import lif_math
from neuro.ops.lif import LIFConfig, lif_scan, lif_scan_reference
from neuro.surrogate import ATan

# (has_syn, has_adapt, spiking, reset) of every structure the engine supports
STRUCTURES = [
    (False, False, True, "subtract"), (False, False, True, "zero"), (False, False, True, "none"),
    (False, False, True, "subtract_delayed"),
    (True, False, True, "subtract"), (True, False, True, "zero"), (True, False, True, "subtract_delayed"),
    (False, True, True, "subtract"), (False, True, True, "zero"),
    (False, False, False, "none"), (True, False, False, "none"),
]


def structure_id(s) -> str:
    has_syn, has_adapt, spiking, reset = s
    name = ("Cuba" if has_syn else "") + ("A" if has_adapt else "") + ("LIF" if spiking else "LI")
    return f"{name}-{reset}"


def random_prm(has_syn: bool, has_adapt: bool, P: int, dtype, gen: torch.Generator) -> torch.Tensor:
    """A plausible coefficient table ``[9, P]`` (decays in (0.5, 1), threshold around 1)."""
    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(P, dtype=dtype, generator=gen)

    prm = torch.zeros(lif_math.N_PARAMS, P, dtype=dtype)
    prm[lif_math.P_ALPHA] = u(0.5, 0.95) if has_syn else 0.0
    prm[lif_math.P_GI] = u(0.3, 1.0) if has_syn else 1.0
    prm[lif_math.P_BETA] = u(0.6, 0.99)
    prm[lif_math.P_GV] = u(0.5, 1.5)
    prm[lif_math.P_C] = u(-0.05, 0.05)
    prm[lif_math.P_TH] = u(0.8, 1.2)
    prm[lif_math.P_VR] = u(-0.2, 0.1)
    prm[lif_math.P_RHO] = u(0.8, 0.99) if has_adapt else 0.0
    prm[lif_math.P_BA] = u(0.1, 0.5) if has_adapt else 0.0
    return prm


def make_case(structure, T: int, N: int, P: int, dtype, seed: int, ge: bool = True,
              detach_reset: bool = False, surrogate=ATan()):
    has_syn, has_adapt, spiking, reset = structure
    gen = torch.Generator().manual_seed(seed)
    cfg = LIFConfig(reset=reset, ge=ge, spiking=spiking, detach_reset=detach_reset,
                    surrogate=surrogate, has_syn=has_syn, has_adapt=has_adapt)
    x = (torch.randn(T, N, dtype=dtype, generator=gen) * 0.5 + 0.25)
    prm = random_prm(has_syn, has_adapt, P, dtype, gen)
    i0 = torch.randn(N, dtype=dtype, generator=gen) * 0.1 if has_syn else torch.zeros(N, dtype=dtype)
    v0 = torch.rand(N, dtype=dtype, generator=gen) * 0.8
    a0 = torch.rand(N, dtype=dtype, generator=gen) * 0.2 if has_adapt else torch.zeros(N, dtype=dtype)
    return cfg, x, prm, i0, v0, a0


def run_both(cfg, x, prm, i0, v0, a0, backend: str, record: bool = True, seed: int = 1,
             learn_prm: bool = True):
    """Run ``backend`` and the torch reference on the same case with the same random loss.

    Returns ``(kernel_result, reference_result, kernel_grads, reference_grads)`` where grads are for
    ``(x, prm, i0, v0, a0)`` (zeros where the reference does not use an input; ``prm``'s gradient is
    not requested when ``learn_prm`` is False, which exercises the kernels' no-parameter-grad path).
    """
    # drawn on the CPU (same numbers whatever the device), then moved next to the outputs
    gen = torch.Generator().manual_seed(seed)
    weights = [torch.randn(x.shape, dtype=x.dtype, generator=gen).to(x.device) for _ in range(4)]
    w_last = [torch.randn(x.shape[1], dtype=x.dtype, generator=gen).to(x.device) for _ in range(3)]

    def loss(res):
        total = sum((seq * w).sum() for seq, w in zip(res[:4], weights) if seq is not None)
        return total + sum((t * w).sum() for t, w in zip(res[4:], w_last))

    outs, grads = [], []
    for b in (backend, "torch"):
        leaves = [t.clone().requires_grad_(learn_prm or k != 1) for k, t in enumerate((x, prm, i0, v0, a0))]
        res = lif_scan(*leaves, cfg, record=record, backend=b) if b != "torch" else \
            lif_scan_reference(*leaves, cfg, record=record)
        wanted = [t for t in leaves if t.requires_grad]
        g = iter(torch.autograd.grad(loss(res), wanted, allow_unused=True))
        g = [next(g) if t.requires_grad else None for t in leaves]
        outs.append(res)
        grads.append([torch.zeros_like(leaf) if gi is None else gi for gi, leaf in zip(g, leaves)])
    return outs[0], outs[1], grads[0], grads[1]

r"""A LIF-family neuron layer with recurrent connections, as one function on the fused kernels.

:math:`x'_t = x_t + W s_{t-1} + b`, then one step of the neuron (:mod:`neuro.functional.lif`) on
:math:`x'_t`; :math:`s_{-1}` is the previous output (zeros from rest). This is
:class:`neuro.nn.Recurrent` with an ``nn.Linear(N, N)`` recurrent layer, run as one fused kernel
per sequence (``neuro.ops.rlif``) instead of a Python loop of steps.
"""

from __future__ import annotations

import torch

from neuro.functional.lif import (
    DEFAULT_PARAMETERS,
    NeuronModel,
    NeuronParameters,
    check_parameter_shapes,
    coefficients,
    initial_state,
    make_config,
)
from neuro.ops.lif import LIFConfig
from neuro.ops.rlif import rlif_scan
from neuro.validation import check_state, check_tensor


def recurrent_neuron_scan(model: NeuronModel, x: torch.Tensor, weight: torch.Tensor,
                          bias: torch.Tensor | None = None, state=None, s0: torch.Tensor | None = None,
                          params: NeuronParameters = DEFAULT_PARAMETERS, cfg: LIFConfig | None = None,
                          backend: str = "auto"):
    """Run ``model`` (IF, LIF, CubaLIF or ALIF) with recurrent weights over ``x [T, B, N]``.

    Returns ``(spikes [T, B, N], state, s_last)``: the neuron's final state and its last output
    (what continues the sequence). ``weight [N, N]`` and ``bias [N]`` act as
    ``nn.Linear(N, N)``: the recurrent input of neuron ``n`` is ``sum_j weight[n, j] s_j + bias[n]``.
    """
    check_tensor(x, "x", 3, "[T, B, N]")
    if x.dim() != 3:
        raise ValueError(f"the recurrent layer takes x of shape [T, B, N], got {tuple(x.shape)}")
    if not model.spiking or model.has_adapt and model.has_syn:
        raise ValueError(f"the fused recurrent layer runs IF, LIF, CubaLIF and ALIF, not {model.name}")
    cfg = cfg if cfg is not None else make_config(model)
    T, B, N = x.shape
    check_parameter_shapes(model, params, (N,))
    if state is None:
        state = initial_state(model, params, x[0])
    else:
        check_state(state, model.state_type, x[0], (B, N))
    s0 = torch.zeros_like(x[0]) if s0 is None else s0
    if tuple(s0.shape) != (B, N):
        raise ValueError(f"the previous output s has shape {tuple(s0.shape)}, expected {(B, N)}")
    prm = coefficients(model, params, (N,), x.dtype, x.device)
    i0, v0, a0 = model.split_state(state)
    zeros = torch.zeros_like(v0)
    res = rlif_scan(x, weight, bias, prm, zeros if i0 is None else i0, v0, zeros if a0 is None else a0, s0,
                    cfg, backend=backend)
    final = model.make_state({"i": res.i_last, "v": res.v_last, "a": res.a_last})
    return res.spikes, final, res.spikes[-1]

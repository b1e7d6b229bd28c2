"""The same LIF layer (beta = 0.9, threshold 1, subtract reset, ATan surrogate) in every library.

Each builder returns ``step(x) -> spikes`` for a time-major input ``[T, B, N]``; libraries whose
neurons keep hidden state are reset inside ``step`` so every call is an independent sequence.
"""

from __future__ import annotations

import torch

BETA = 0.9


def neuro_lif(device: str):
    from neuro.nn import LIF

    lif = LIF(beta=BETA, reset="subtract", threshold_op=">=").to(device)
    return lambda x: lif(x)[0]


def spikingjelly_lif(device: str):
    from spikingjelly.activation_based import functional, neuron, surrogate

    node = neuron.LIFNode(tau=1 / (1 - BETA), decay_input=False, v_reset=None,
                          surrogate_function=surrogate.ATan(), step_mode="m").to(device)

    def step(x):
        functional.reset_net(node)
        return node(x)
    return step


def snntorch_lif(device: str):
    import snntorch as snn

    leaky = snn.Leaky(beta=BETA, spike_grad=snn.surrogate.atan(), reset_mechanism="subtract").to(device)

    def step(x):  # the fast way: iterate over unbind (indexing x[t] makes backward O(T^2))
        mem = torch.zeros_like(x[0])
        out = []
        for x_t in x.unbind(0):
            spk, mem = leaky(x_t, mem)
            out.append(spk)
        return torch.stack(out)
    return step


def norse_lif(device: str):
    import norse.torch as norse

    # Norse's multi-step LIF with an instantaneous synapse (tau_syn = dt) is the box LIF with
    # beta = 1 - dt * tau_mem_inv = 0.9 (bit-identical spikes, tests/test_peers.py)
    t = lambda v: torch.tensor(v, device=device)  # noqa: E731
    p = norse.LIFParameters(tau_mem_inv=t(100.0), tau_syn_inv=t(1000.0), v_reset=t(0.0), v_th=t(1.0))
    layer = norse.LIF(p, dt=1e-3).to(device)
    return lambda x: layer(x * 10)[0]  # Norse scales the input by dt * tau_mem_inv


class _Heaviside(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return (z >= 0).to(z.dtype)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g / (1 + (torch.pi / 2 * 2.0 * z) ** 2)


def torch_loop_lif(device: str):
    def step(x):
        v = torch.zeros_like(x[0])
        out = []
        for x_t in x.unbind(0):
            v = BETA * v + x_t
            s = _Heaviside.apply(v - 1.0)
            v = v - s
            out.append(s)
        return torch.stack(out)
    return step


LIBRARIES = {"neuro": neuro_lif, "spikingjelly": spikingjelly_lif, "snntorch": snntorch_lif,
             "norse": norse_lif, "torch_loop": torch_loop_lif}


def available(device: str) -> dict:
    """Builders of the libraries that import here."""
    found = {}
    for name, build in LIBRARIES.items():
        try:
            build(device)
        except ImportError as err:
            print(f"  skipping {name}: {err}")
            continue
        found[name] = build
    return found

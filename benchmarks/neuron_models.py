"""The issue-19 neuron models against the peers that have them, and the fused recurrent LIF against
the stepped layer: CPU, float32, forward + backward (a loss on the spikes), median of interleaved
rounds (``harness.time_interleaved``).

* recurrent LIF, ``T = 100, B = 16``, ``N = 256, 1024``: neuro's fused kernel
  (``Recurrent(LIF, nn.Linear)``, Numba), the same layer stepped in Python (``backend="torch"``, the
  path before issue 19) and snnTorch's ``RLeaky`` (all-to-all);
* Izhikevich, ``T = 200, B = 16, N = 512``: neuro (Numba), neuro's torch reference, Norse's
  ``Izhikevich`` (tonic spiking);
* alpha LIF, ``T = 100, B = 16, N = 1024``: neuro's ``AlphaLIF.snntorch`` (Numba) and snnTorch's
  ``Alpha``;
* the user-defined QIF of the docs, ``T = 100, B = 16, N = 1024``: neuro (Numba) and SpikingJelly's
  ``QIFNode`` (multi-step, its CPU path).

Writes ``benchmarks/results/neuron_models_cpu.{json,md}``::

    python benchmarks/neuron_models.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import harness  # noqa: E402

from neuro.nn import LIF, AlphaLIF, Izhikevich, Recurrent, SpecNeuron  # noqa: E402
from neuro.surrogate import Sigmoid  # noqa: E402
from spec_cases import QIF  # noqa: E402


def fwd_bwd(run, x):
    def call():
        xx = x.detach().requires_grad_()
        out = run(xx)
        out.sum().backward()
    return call


def recurrent_cases(N: int, T: int = 100, B: int = 16) -> dict:
    torch.manual_seed(0)
    x = torch.rand(T, B, N) * 0.3
    lin = nn.Linear(N, N)
    with torch.no_grad():
        lin.weight.mul_(0.5)
    fused = Recurrent(LIF(N, beta=0.9), lin)
    stepped = Recurrent(LIF(N, beta=0.9, backend="torch"), lin)
    cases = {"neuro fused (numba)": fwd_bwd(lambda xx: fused(xx)[0], x),
             "neuro stepped (torch)": fwd_bwd(lambda xx: stepped(xx)[0], x)}
    try:
        import snntorch as snn

        rl = snn.RLeaky(beta=0.9, linear_features=N)

        def snn_run(xx):
            spk, mem = rl.init_rleaky()
            out = []
            for x_t in xx:
                spk, mem = rl(x_t, spk, mem)
                out.append(spk)
            return torch.stack(out)
        cases["snnTorch RLeaky"] = fwd_bwd(snn_run, x)
    except ImportError:
        pass
    return cases


def izhikevich_cases(T: int = 200, B: int = 16, N: int = 512) -> dict:
    x = 8 + 6 * torch.rand(T, B, N)
    ours = Izhikevich(preset="regular_spiking")
    ref = Izhikevich(preset="regular_spiking", backend="torch")
    cases = {"neuro (numba)": fwd_bwd(lambda xx: ours(xx)[0], x),
             "neuro torch reference": fwd_bwd(lambda xx: ref(xx)[0], x)}
    try:
        import norse.torch as nt

        norse_izh = nt.Izhikevich(nt.tonic_spiking)
        cases["Norse Izhikevich"] = fwd_bwd(lambda xx: norse_izh(xx)[0], x)
    except ImportError:
        pass
    return cases


def alpha_cases(T: int = 100, B: int = 16, N: int = 1024) -> dict:
    x = torch.randn(T, B, N) * 0.8
    ours = AlphaLIF.snntorch(0.9, 0.8)
    cases = {"neuro AlphaLIF.snntorch (numba)": fwd_bwd(lambda xx: ours(xx)[0], x)}
    try:
        import snntorch as snn

        ref = snn.Alpha(alpha=0.9, beta=0.8)

        def snn_run(xx):
            ref.reset_mem()
            return torch.stack([ref(x_t)[0] for x_t in xx])
        cases["snnTorch Alpha"] = fwd_bwd(snn_run, x)
    except ImportError:
        pass
    return cases


def qif_cases(T: int = 100, B: int = 16, N: int = 1024) -> dict:
    x = torch.rand(T, B, N) * 1.5
    ours = SpecNeuron(QIF, surrogate=Sigmoid(4.0))
    cases = {"neuro SpecNeuron(QIF) (numba)": fwd_bwd(lambda xx: ours(xx)[0], x)}
    try:
        from spikingjelly.activation_based import functional, neuron

        sj = neuron.QIFNode(step_mode="m")

        def sj_run(xx):
            functional.reset_net(sj)
            return sj(xx)
        cases["SpikingJelly QIFNode"] = fwd_bwd(sj_run, x)
    except ImportError:
        pass
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    groups = {"recurrent LIF N=256": recurrent_cases(256), "recurrent LIF N=1024": recurrent_cases(1024),
              "Izhikevich": izhikevich_cases(), "alpha LIF": alpha_cases(), "QIF (user-defined)": qif_cases()}
    results = {}
    for group, fns in groups.items():
        results[group] = harness.time_interleaved(fns, "cpu", rounds=args.rounds, warmup=1)
        print(group, {k: f"{v * 1e3:.1f} ms" for k, v in results[group].items()}, flush=True)
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    lines = [f"# Neuron models, CPU float32, forward + backward ({harness.hardware('cpu')})", "",
             f"Load average (1 min) at the end of the run: {load:.1f}.", "",
             f"`python benchmarks/neuron_models.py --rounds {args.rounds}`: median of {args.rounds} "
             "interleaved rounds.", "", "| case | implementation | ms | vs neuro |", "|---|---|---|---|"]
    for group, times in results.items():
        base = next(iter(times.values()))
        for name, t in times.items():
            lines.append(f"| {group} | {name} | {t * 1e3:.1f} | {t / base:.2f}x |")
    harness.write_results("neuron_models_cpu", {"hardware": harness.hardware("cpu"), "rounds": args.rounds,
                                                "load_average_1min": load, "seconds": results},
                          "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The trainer's toolbox in use: porting the snnTorch tutorial network, and encoders on digits.

Part 1 (port): snnTorch's tutorial network (784-1000-10 ``Leaky``, 25 steps) against the same
weights in neuro through ``LIF.snntorch`` and through neuro's default ``LIF(beta=...)``: spikes that
differ, the largest relative gradient difference, and the time of a forward + backward pass
(interleaved repeats, median).

Part 2 (encoders): a 64-100-10 network of ``LIF.snntorch`` neurons trained on scikit-learn's 8x8
digits (1437 train / 360 test) with each encoder of ``neuro.encoding`` (direct, rate, latency,
Gaussian population), ``neuro.losses.ce_count_loss`` plus a population upper-bound regulariser,
``neuro.metrics.accuracy``; several seeds, mean and 95% confidence interval (t distribution).

    python benchmarks/toolbox_digits.py --out benchmarks/results/toolbox
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from pathlib import Path

import harness
import torch
from torch import nn

from neuro import encoding, losses, metrics
from neuro._io import pyplot, save_figure, write_text
from neuro.nn import LIF, Stateless

T_STEPS, BETA = 25, 0.95
T_CRIT_95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 8: 2.365, 10: 2.262}


# ----------------------------------------------------------------------------- part 1: the port
def _snntorch_net():
    import snntorch as snn

    class TutorialNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.lif1 = nn.Linear(784, 1000), snn.Leaky(beta=BETA)
            self.fc2, self.lif2 = nn.Linear(1000, 10), snn.Leaky(beta=BETA)

        def forward(self, x):
            mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
            spk1_rec, spk2_rec, mem2_rec = [], [], []
            for _ in range(T_STEPS):
                spk1, mem1 = self.lif1(self.fc1(x), mem1)
                spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
                spk1_rec.append(spk1)
                spk2_rec.append(spk2)
                mem2_rec.append(mem2)
            return torch.stack(spk1_rec), torch.stack(spk2_rec), torch.stack(mem2_rec)

    return TutorialNet()


class PortedNet(nn.Module):
    def __init__(self, make):
        super().__init__()
        self.fc1, self.lif1 = nn.Linear(784, 1000), make()
        self.fc2, self.lif2 = nn.Linear(1000, 10), make(record_states=True)

    def forward(self, x):
        spk1, _ = self.lif1(encoding.repeat(self.fc1(x), T_STEPS))
        spk2, trace = self.lif2(self.fc2(spk1))
        return spk1, spk2, trace.v


def _loss(mem, labels):
    return sum(nn.functional.cross_entropy(mem[t], labels) for t in range(T_STEPS))


def port_check(batch: int, repeats: int) -> dict:
    torch.manual_seed(0)
    peer = _snntorch_net()
    ports = {"LIF.snntorch(beta=0.95)": PortedNet(lambda **k: LIF.snntorch(beta=BETA, **k)),
             "LIF(beta=0.95)": PortedNet(lambda **k: LIF(beta=BETA, **k))}
    images, labels = torch.rand(batch, 784), torch.randint(0, 10, (batch,))
    h_ref, s_ref, m_ref = peer(images)
    _loss(m_ref, labels).backward()
    result = {"batch": batch, "steps": T_STEPS, "hidden_spikes": int(h_ref.sum()),
              "output_spikes": int(s_ref.sum()), "ports": {}}
    for name, port in ports.items():
        port.fc1.load_state_dict(peer.fc1.state_dict())
        port.fc2.load_state_dict(peer.fc2.state_dict())
        h, s, m = port(images)
        _loss(m, labels).backward()
        grad_diff = max(float((a.grad - b.grad).abs().max() / b.grad.abs().max())
                        for a, b in zip(port.parameters(), peer.parameters()))
        result["ports"][name] = {"hidden_steps_differing": int((h != h_ref).sum()),
                                 "output_steps_differing": int((s != s_ref).sum()),
                                 "max_relative_gradient_difference": grad_diff}
    port = ports["LIF.snntorch(beta=0.95)"]
    times = {"snntorch": [], "neuro": []}
    for _ in range(repeats):  # interleaved
        for name, net in (("snntorch", peer), ("neuro", port)):
            start = time.perf_counter()
            _loss(net(images)[2], labels).backward()
            times[name].append(time.perf_counter() - start)
    result["forward_backward_s_median"] = {k: statistics.median(v) for k, v in times.items()}
    return result


# ----------------------------------------------------------------------------- part 2: encoders
def _digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data, dtype=torch.float32) / 16.0
    y = torch.tensor(data.target)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[order], y[order]
    return (x[:1437], y[:1437]), (x[1437:], y[1437:])


def _encoders():
    population = encoding.GaussianPopulation(64, 4, T_STEPS, mode="rate", seed=0)
    return {
        "direct (repeat)": (64, lambda x, g: encoding.repeat(x, T_STEPS)),
        "rate": (64, lambda x, g: encoding.rate(x, T_STEPS, generator=g)),
        "latency (log, normalised)": (64, lambda x, g: encoding.latency(x, T_STEPS, normalize=True,
                                                                         clip=True)),
        "population (4 fields, rate)": (256, lambda x, g: population(x)[0]),
    }


def train_digits(seed: int, inputs: int, encode, epochs: int, batch: int = 64) -> float:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    (x_train, y_train), (x_test, y_test) = _digits()
    net = nn.Sequential(nn.Linear(inputs, 100), Stateless(LIF.snntorch(beta=0.9)),
                        nn.Linear(100, 10), Stateless(LIF.snntorch(beta=0.9)))
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(y_train), generator=g)
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            spikes = net(encode(x_train[idx], g))
            loss = losses.ce_count_loss(spikes, y_train[idx])
            loss = loss + 1e-3 * losses.count_upper_bound(spikes, 0.5 * T_STEPS)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return metrics.accuracy(net(encode(x_test, g)), y_test)


def _ci95(values: list[float]) -> float:
    n = len(values)
    return T_CRIT_95.get(n, 1.96) * statistics.stdev(values) / math.sqrt(n) if n > 1 else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/toolbox"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch", type=int, default=128, help="batch of the port check")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = {"machine": harness.cpu_name(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "load_average_start": os.getloadavg()[0],
              "port": port_check(args.batch, args.repeats)}
    accuracy = {}
    for name, (inputs, encode) in _encoders().items():
        values = [train_digits(seed, inputs, encode, args.epochs) for seed in range(args.seeds)]
        accuracy[name] = {"test_accuracy": values, "mean": statistics.mean(values), "ci95": _ci95(values)}
        print(f"{name}: {statistics.mean(values):.3f} +- {_ci95(values):.3f}", flush=True)
    result["digits"] = {"epochs": args.epochs, "seeds": args.seeds, "steps": T_STEPS,
                        "accuracy": accuracy}
    result["load_average_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "results.json", json.dumps(result, indent=2))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    names = list(accuracy)
    ax.barh(names, [accuracy[n]["mean"] for n in names], xerr=[accuracy[n]["ci95"] for n in names],
            color="tab:blue", capsize=4)
    ax.set_xlabel(f"test accuracy (mean, 95% CI over {args.seeds} seeds)")
    ax.set_xlim(0, 1)
    ax.set_title(f"8x8 digits, 64-100-10 LIF.snntorch, T = {T_STEPS}, {args.epochs} epochs")
    fig.tight_layout()
    save_figure(fig, args.out / "digits_encoders.png")
    port = result["port"]
    lines = ["# The trainer's toolbox: port check and encoders on digits", "",
             f"Command: `python benchmarks/toolbox_digits.py --out {args.out}` "
             f"({result['machine']}, torch {result['torch']}, {result['threads']} threads; load "
             f"average {result['load_average_start']:.1f} at the start, {result['load_average_end']:.1f} "
             "at the end: timings on a shared machine are indicative only).", "",
             f"## snnTorch tutorial network (784-1000-10, {T_STEPS} steps, batch {port['batch']})", "",
             f"snnTorch: {port['hidden_spikes']} hidden and {port['output_spikes']} output spikes.", "",
             "| neuro neuron | hidden neuron-steps differing | output neuron-steps differing "
             "| max relative gradient difference |", "|---|---|---|---|"]
    for name, r in port["ports"].items():
        lines.append(f"| `{name}` | {r['hidden_steps_differing']} | {r['output_steps_differing']} | "
                     f"{r['max_relative_gradient_difference']:.2g} |")
    fb = port["forward_backward_s_median"]
    lines += ["", f"Forward + backward (median of {args.repeats}, interleaved): snnTorch "
              f"{fb['snntorch'] * 1e3:.0f} ms, neuro port {fb['neuro'] * 1e3:.0f} ms "
              f"({fb['snntorch'] / fb['neuro']:.1f}x; the port computes the input layer once).", "",
              f"## Encoders on 8x8 digits ({args.epochs} epochs, {args.seeds} seeds)", "",
              "| encoder | test accuracy (mean +- 95% CI) |", "|---|---|"]
    for name, a in accuracy.items():
        lines.append(f"| {name} | {a['mean']:.3f} +- {a['ci95']:.3f} |")
    lines += ["", "![accuracy](digits_encoders.png)", ""]
    write_text(args.out / "README.md", "\n".join(lines))


if __name__ == "__main__":
    main()

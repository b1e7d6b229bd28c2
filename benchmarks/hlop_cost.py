"""What HLOP adds to a training step, at the paper's PMNIST shapes — does a fused kernel pay?

    python benchmarks/hlop_cost.py [--device cuda] [--threads 1] [--rounds 7]

Network 784-800-800-10 LIF MLP (no biases), batch 64, T = 20, lateral rows [80, 200, 100]
frozen + [70, 70, 70] learning (task 1 of the paper's schedule). Times, interleaved:

* ``step``        — forward + backward + SGD step of the plain network (BPTT on neuro's kernels);
* ``step+hlop``   — the same with HLOP attached: trace recording, 5 Hebbian iterations per layer
  and the weight-gradient projection (the paper's per-batch cost 5 x O(B M n));
* ``hebbian``     — the Hebbian update alone as the library runs it (``HebbianSubspace.update``:
  dH = Y^T X - (Y^T Y) H when the batch exceeds the rows M, as here);
* ``hebbian_residual`` — the textbook form dH = Y^T (X - Y H), which forms the [B, n] residual;
* ``projection``  — projecting the three weight gradients alone.

A fused (Numba/CUDA) Hebbian kernel can at most remove the ``hebbian`` share of ``step+hlop``;
the JSON records that share. Writes ``benchmarks/results/hlop_cost_<device>.json``.
"""

from __future__ import annotations

import argparse

import harness
import torch
import torch.nn.functional as F

from neuro.learning import HLOP, HebbianSubspace, lif_mlp, project_rows

B, T, HIDDEN, FROZEN, NEW = 64, 20, 800, [80, 200, 100], [70, 70, 70]


def hebbian_residual(sub: HebbianSubspace, x: torch.Tensor) -> None:
    """The Hebbian update with dH = Y_new^T (X - Y H) (same result as ``sub.update``)."""
    k = sub.n_frozen
    for _ in range(sub.iterations):
        y = x @ sub.weight.T
        delta = (y[:, k:].T @ (x - y @ sub.weight)).div_(x.shape[0])
        delta.clamp_(-sub.clamp, sub.clamp)
        v = sub.velocity[k:].mul_(sub.momentum).add_(delta, alpha=1 - sub.momentum)
        sub.weight[k:].add_(v, alpha=sub.lr)


def run(device: str, rounds: int) -> dict:
    torch.manual_seed(0)
    model = lif_mlp((1, 28, 28), 10, [HIDDEN, HIDDEN], dt=1e-3, tau_mem=20e-3).to(device)
    plain = lif_mlp((1, 28, 28), 10, [HIDDEN, HIDDEN], dt=1e-3, tau_mem=20e-3).to(device)
    plain.load_state_dict(model.state_dict())
    hlop = HLOP(model, lr=[1e-3, 1e-2, 1e-2], trace="spikes")  # the paper's BPTT variant
    hlop.begin_task(FROZEN)
    hlop.begin_task(NEW)
    x = torch.rand(T, B, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (B,), device=device)
    opt_h = torch.optim.SGD(model.parameters(), lr=0.1)
    opt_p = torch.optim.SGD(plain.parameters(), lr=0.1)

    def step(net, opt, with_hlop):
        def f():
            opt.zero_grad()
            out, _ = net(x)
            if with_hlop:
                hlop.hebbian_step()
            F.cross_entropy(out.mean(0), labels).backward()
            opt.step()
        return f

    samples = []
    with hlop.recording("always"):
        hlop.reset_recording()
        with torch.no_grad():
            model(x)
        samples = [hlop.take_samples(i) for i in range(3)]
    hlop.record_mode = "train"
    copies = [HebbianSubspace(s.in_features, lr=s.lr) for s in hlop.subspaces]
    for c, s in zip(copies, hlop.subspaces):
        c.load_state_dict(s.state_dict())
        c.to(device)
    grads = [torch.randn_like(s.weight) for s in hlop.sites]

    def hebbian():
        for c, xs in zip(copies, samples):
            c.update(xs)

    def residual():
        with torch.no_grad():
            for c, xs in zip(copies, samples):
                hebbian_residual(c, xs)

    def projection():
        for i, g in enumerate(grads):
            project_rows(g, hlop.basis(i))

    fns = {"step": step(plain, opt_p, False), "step+hlop": step(model, opt_h, True),
           "hebbian": hebbian, "hebbian_residual": residual, "projection": projection}
    times = harness.time_interleaved(fns, device, rounds=rounds)
    # the two Hebbian forms agree
    a = HebbianSubspace(samples[1].shape[1])
    a.load_state_dict(hlop.subspaces[1].state_dict())
    b = HebbianSubspace(samples[1].shape[1])
    b.load_state_dict(hlop.subspaces[1].state_dict())
    a.to(device).update(samples[1])
    with torch.no_grad():
        hebbian_residual(b.to(device), samples[1])
    agree = float((a.weight - b.weight).abs().max())
    return {"times_s": times, "hebbian_share_of_step": times["hebbian"] / times["step+hlop"],
            "hlop_overhead": times["step+hlop"] / times["step"] - 1,
            "library_vs_residual": times["hebbian"] / times["hebbian_residual"],
            "hebbian_samples": [int(s.shape[0]) for s in samples],
            "max_diff_library_vs_residual": agree}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    result = run(args.device, args.rounds)
    t = result["times_s"]
    print(f"hardware: {harness.hardware(args.device)}")
    for name, value in t.items():
        print(f"  {name:13s} {1e3 * value:9.1f} ms")
    print(f"HLOP overhead per step {100 * result['hlop_overhead']:.0f}%; Hebbian update "
          f"{100 * result['hebbian_share_of_step']:.0f}% of the HLOP step; library form "
          f"{result['library_vs_residual']:.2f}x the residual form (max diff "
          f"{result['max_diff_library_vs_residual']:.1e})")
    path = harness.write_results(f"hlop_cost_{args.device}", {
        "hardware": harness.hardware(args.device), "shapes": {"B": B, "T": T, "hidden": HIDDEN,
                                                              "frozen": FROZEN, "new": NEW},
        **result})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

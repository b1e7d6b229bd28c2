"""The concept-shift runner: fast vs exact decisions, determinism by seed, the SNN, the command."""

import json

import pytest
import torch

from neuro.models.homeostatic import ArraySet, StreamConfig, StreamRun, digits_set, run_stream


@pytest.fixture(scope="module")
def small_digits() -> ArraySet:
    return digits_set().subset(train=300, val=100, seed=1)


def _equivalent(small: ArraySet, **options) -> list:
    results = {}
    for mode in ("fast", "exact"):
        config = StreamConfig(method="homeostatic", mode=mode, dtype="float64", **options)
        results[mode] = run_stream(config, small)
    fast, exact = results["fast"], results["exact"]
    assert fast.decisions == exact.decisions  # the same ingest/reject decisions, in order
    torch.testing.assert_close(torch.tensor(fast.trace_value), torch.tensor(exact.trace_value),
                               rtol=0, atol=1e-15)
    assert fast.batch_correct == exact.batch_correct
    for a, b in zip(fast.history, exact.history):
        assert a["val_acc"] == b["val_acc"]
    return fast.decisions


def test_fast_mode_takes_the_exact_modes_decisions_mlp(small_digits):
    # paper protocol (minibatch 10, an opportunity every 10 samples, replay 20) on a shifting stream;
    # a large step makes the look-ahead decide often enough for the comparison to mean something
    decisions = _equivalent(small_digits.subset(train=200), epochs=1, gap=40, lr=0.05, step=0.02)
    taken = sum(d[1] for d in decisions)
    assert len(decisions) == 18 and 3 <= taken < len(decisions)


def test_fast_mode_equivalence_with_mid_batch_decisions(small_digits):
    # opportunities every 4 samples inside minibatches of 10: prefix gradients and replay updates
    decisions = _equivalent(small_digits.subset(train=120), epochs=1, gap=50, lr=0.05, step=0.02,
                            lr_interval=4, n_memo=8)
    assert sum(d[1] for d in decisions) >= 3


def test_fast_mode_equivalence_snn(small_digits):
    tiny = small_digits.subset(train=160, val=40)
    # torch backend: the decisions are under test here, not the kernels (no float64 kernel compilation)
    decisions = _equivalent(tiny, epochs=1, gap=40, lr=0.3, step=0.2, model="snn", steps=3,
                            hidden=[24, 16], backend="torch")
    assert len(decisions) == 14 and sum(d[1] for d in decisions) >= 2


def test_deterministic_by_seed(small_digits):
    config = dict(method="random", epochs=2, gap=70, lr=0.02)
    data = small_digits.subset(train=150)
    a = run_stream(StreamConfig(seed=4, **config), data).to_dict()
    b = run_stream(StreamConfig(seed=4, **config), data).to_dict()
    c = run_stream(StreamConfig(seed=5, **config), data).to_dict()
    for key in ("trace_value", "decisions", "swaps", "batch_correct"):
        assert a[key] == b[key]
    assert [h["val_acc"] for h in a["history"]] == [h["val_acc"] for h in b["history"]]
    assert a["swaps"] != c["swaps"] and a["decisions"] != c["decisions"]
    assert [tuple(s)[0] for s in a["swaps"]] == [70, 140, 210, 280]


def test_controls_and_baselines_run(small_digits):
    for method in ("constant", "adam", "drift", "always"):
        result = run_stream(StreamConfig(method=method, epochs=1, gap=50, lr=0.02),
                            small_digits.subset(train=150))
        assert len(result.history) == 1 and 0 <= result.history[0]["val_acc"] <= 1
        if method == "constant":
            assert set(result.trace_value) == {0.02} and result.decisions == []
        if method == "always":
            assert all(taken for _, taken in result.decisions)


def test_lr_floor_holds_in_a_run(small_digits):
    result = run_stream(StreamConfig(method="always", epochs=1, lr=1e-3, step=5e-3, floor=1e-6,
                                     need_threshold=10), small_digits)  # every class lowers the lr
    assert min(result.trace_value) == 1e-6


def test_alif_adaptation_regulated_in_a_run(small_digits):
    tiny = small_digits.subset(train=100, val=20)
    run = StreamRun(StreamConfig(method="always", epochs=1, model="snn", neuron="alif", steps=4,
                                 hidden=[16, 8], regulate="beta_adapt", step=0.05, need_threshold=0), tiny)
    run.run()
    assert run.variable.name == "beta_adapt"
    assert run.result.trace_value[-1] == pytest.approx(0.2 + 0.05 * 8)  # 8 opportunities, all raise it
    assert all(float(n.beta_adapt) == pytest.approx(0.6) for n in run.model.neurons)
    with pytest.raises(ValueError, match="alif"):
        StreamConfig(regulate="tau_adapt", model="mlp")


def test_neuro_homeostatic_command(tmp_path, capsys):
    from neuro.cli import main

    out = tmp_path / "grid"
    argv = ["homeostatic", "--out", str(out), "--methods", "homeostatic,constant", "--gaps", "0,60",
            "--seeds", "0,1", "--epochs", "1", "--train-samples", "100", "--val-samples", "50",
            "--lr", "0.02", "--no-progress"]
    assert main(argv) == 0
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert len(runs) == 8 and "homeostatic__gap60__seed1.json" in runs
    for name in ("summary.json", "summary.csv", "summary.md", "accuracy.png", "traces.png", "gaps.png"):
        assert (out / name).is_file()
    table = json.loads((out / "summary.json").read_text())["val_acc_mean"]
    row = next(r for r in table if r["method"] == "constant" and r["rate"] == "gap60")
    assert row["n"] == 2 and "ci_low" in row
    (out / "runs" / runs[0]).unlink()  # an interrupted grid: --resume runs only what is missing
    capsys.readouterr()
    assert main(["homeostatic", "--resume", str(out), "--no-progress"]) == 0
    assert sum(line.startswith("[") for line in capsys.readouterr().out.splitlines()) == 1
    assert len(list((out / "runs").iterdir())) == 8
    assert main(argv) == 2  # a new grid into a used folder is refused


def test_paired_difference_t_interval():
    from neuro.models.homeostatic.analysis import paired_difference

    d = paired_difference([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    half = 4.302652729911275 * 1.0 / 3 ** 0.5  # t(0.975, 2) * sd / sqrt(n)
    assert d["mean"] == 2.0 and d["n"] == 3
    assert d["low"] == pytest.approx(2.0 - half) and d["high"] == pytest.approx(2.0 + half)


def test_prefix_gradients_through_the_fused_kernels():
    # the fast mode backpropagates segments of one forward (retain_graph) through the Numba kernels
    from neuro.models.homeostatic import HomeostaticSNN

    torch.manual_seed(0)
    snn = HomeostaticSNN(64, steps=6, backend="numba", bias_std=0.5)
    x, y = torch.rand(10, 64), torch.randint(0, 10, (10,))
    losses = torch.nn.functional.cross_entropy(snn(x), y, reduction="none")
    losses[:3].sum().backward(retain_graph=True)
    prefix = [p.grad.clone() for p in snn.parameters()]
    losses[3:].sum().backward()
    total = [p.grad.clone() for p in snn.parameters()]
    for part, expected in ((x[:3], prefix), (x, total)):
        snn.zero_grad()
        torch.nn.functional.cross_entropy(snn(part), y[:len(part)], reduction="sum").backward()
        for p, g in zip(snn.parameters(), expected):
            torch.testing.assert_close(g, p.grad, rtol=1e-5, atol=1e-5)

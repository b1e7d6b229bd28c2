"""Liquid tuning tools (neuro.models.lsm_tuning): rank streams, separation curves, damage spreading,
sweeps, rate-targeted liquids and the plots (small liquids; the numbers come from
benchmarks/lsm_tuning.py)."""

import numpy as np
import pytest

from neuro.models.lsm import LiquidStateMachine, ReservoirConfig
from neuro.models.lsm_tuning import (
    MeasureConfig,
    damage_spreading,
    plot_capacity_vs_rate,
    plot_sweep,
    rank_streams,
    rate_series,
    separation_curves,
    sweep,
)

SMALL = MeasureConfig(n_values=200, max_delay=3, rank_streams=12, rank_steps=80, perturbations=2,
                      calibration=0.5, rate_iterations=6)


def _liquid(recurrent: float = 0.25, n: int = 60, n_inputs: int = 10) -> LiquidStateMachine:
    lsm = LiquidStateMachine(n_inputs, ReservoirConfig(n=n, bias=0.0, seed=3))
    lsm.set_input_scale(1.5)
    lsm.set_scale(recurrent)
    return lsm


def test_rank_streams_distinct_and_jittered():
    distinct = rank_streams(6, 4, 100, 50.0, 1e-3, jitter=None, seed=1)
    assert len(distinct) == 4
    assert len({d[0].tobytes() for d in distinct}) == 4  # all different
    for times, idx in distinct:
        assert times.min() >= 0 and times.max() < 0.1 and idx.max() < 6
        steps = np.rint(times / 1e-3).astype(int)
        assert np.unique(steps * 6 + idx).size == steps.size  # one spike per (step, channel)
    same = rank_streams(6, 3, 100, 50.0, 1e-3, jitter=0.0, seed=1)
    for times, idx in same[1:]:  # zero jitter: copies of one stream
        np.testing.assert_array_equal(times, same[0][0])
        np.testing.assert_array_equal(idx, same[0][1])
    noisy = rank_streams(6, 3, 100, 50.0, 1e-3, jitter=3e-3, seed=1)
    base = same[0]
    for times, idx in noisy:  # jittered copies keep the channels' spike counts (up to merged spikes)
        assert not np.array_equal(times, base[0])
        for c in range(6):
            assert 0 < np.count_nonzero(idx == c) <= np.count_nonzero(base[1] == c)
    # the same seed draws the same streams
    again = rank_streams(6, 4, 100, 50.0, 1e-3, jitter=None, seed=1)
    np.testing.assert_array_equal(again[2][0], distinct[2][0])


def test_separation_grows_with_input_distance():
    """Maass's separation property: identical inputs give identical liquid states (a deterministic
    simulation from the same initial state), more distant inputs more distant states."""
    sep = separation_curves(_liquid(), fractions=(0.0, 0.1, 0.5), pairs=3, duration=0.15, every=10, seed=0)
    assert len(sep["t"]) == len(sep["curves"][0.0]) == 14
    assert np.allclose(sep["curves"][0.0], 0.0) and sep["input_distance"][0.0] == 0.0
    mean = {f: float(np.mean(c)) for f, c in sep["curves"].items()}
    assert 0.0 < mean[0.1] < mean[0.5]
    assert 0.0 < sep["input_distance"][0.1] < sep["input_distance"][0.5]


def test_damage_spreading_and_persistent_rate():
    deaf = _liquid(0.25)
    deaf.set_input_scale(0.0)  # the extra input spike cannot reach the liquid: no damage at all
    assert damage_spreading(deaf, SMALL) == (0.0, 0.0)
    quiet_damage, quiet_late = damage_spreading(_liquid(0.25), SMALL)
    assert quiet_damage > 0.0 and quiet_late == 0.0  # one spike moves the state; firing stops with the input
    # static excitation this strong ignites self-sustained firing near the refractory limit, which the
    # extra spike barely changes (relative to the state's norm): saturation, not chaos
    loud_damage, loud_late = damage_spreading(_liquid(8.0), SMALL)
    assert loud_late > 50.0 and loud_damage < quiet_damage


def test_sweep_and_rate_series_on_a_small_liquid():
    cfg = ReservoirConfig(n=60, bias=0.0, seed=3)
    records = sweep(10, cfg, input_scales=[1.5], recurrent_scales=[0.1, 8.0], measure=SMALL,
                    inhibition_scales=(1.0, 4.0), progress=False)
    assert [(r["inhibition_scale"], r["recurrent_scale"]) for r in records] == [
        (1.0, 0.1), (1.0, 8.0), (4.0, 0.1), (4.0, 8.0)]
    for r in records:
        assert len(r["memory_curve"]) == SMALL.max_delay + 1
        assert 0 <= r["generalization_rank"] <= SMALL.rank_streams
        assert r["kq_minus_gr"] == r["kernel_quality"] - r["generalization_rank"]
    # more inhibition, same excitation: a lower rate
    assert records[3]["rate_hz"] < records[1]["rate_hz"]
    assert records[1]["spectral_radius"] == pytest.approx(80 * records[0]["spectral_radius"], rel=1e-4)
    series = rate_series(10, cfg, 1.5, [20.0, 60.0], SMALL)
    assert [s["target_rate"] for s in series] == [20.0, 60.0]
    assert series[0]["recurrent_scale"] < series[1]["recurrent_scale"]
    assert series[0]["rate_hz"] < series[1]["rate_hz"]


def _records() -> list[dict]:
    out = []
    for g in (1.0, 4.0):
        for a in (1.0, 2.0):
            for b in (0.25, 0.5, 1.0):
                out.append({"inhibition_scale": g, "input_scale": a, "recurrent_scale": b,
                            "rate_hz": 10 * a * b, "persistent_rate_hz": 0.0, "mc": a + b, "kq_minus_gr": 3,
                            "damage": 0.1})
    return out


def test_plots_write_pngs(tmp_path):
    records = _records()
    plot_sweep([r for r in records if r["inhibition_scale"] == 1.0], tmp_path / "sweep.png")
    plot_capacity_vs_rate(records, tmp_path / "rate.png", title="test")
    for name in ("sweep.png", "rate.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="one inhibition scale"):
        plot_sweep(records, tmp_path / "mixed.png")

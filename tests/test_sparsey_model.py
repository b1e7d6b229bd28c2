"""Sparsey's behavioural invariants (spec section 1.6) and the model around the CSA: receptive
fields, gating, persistence, freezing, recall, readouts, sequences, state."""

import time

import numpy as np
import pytest
import torch

from neuro.kernels import sparsey_math as sm
from neuro.models.sparsey import (
    CodeMemory,
    CSAParams,
    HebbianReadout,
    Level,
    SparseyNetwork,
    capacity_curve,
    code_overlap,
    learn_sequences,
    midway_recognition,
    one_mac_fixture,
    replay,
    sequence_scores,
    single_mac,
    sisc_curve,
    stream,
)
from neuro.models.sparsey.analysis import FIXTURE_INPUTS, bits, random_inputs
from neuro.models.sparsey.data import binary_digits, event_sequences, thin

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# -- invariant 1: the one-mac fixture --------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_mac_fixture(seed):
    r = one_mac_fixture(seed)
    learned, recog = r["learned"], r["recognised"]
    assert len({tuple(c) for c in learned.tolist()}) == 4                    # 4 distinct codes
    assert torch.equal(recog, learned)                                       # max-V reinstates exactly
    assert torch.all(r["G_learned"] == 1.0)
    assert torch.all(r["G_at_learning"] <= 0.1)                              # each was novel: random code
    assert r["G_novel"] < 0.2
    partial = r["network"].recognise_items(bits(16, [(0, 1, 5)]))           # 2 of 3 bits of one input
    assert 2 / 3 - 1e-12 <= float(partial.familiarity[0, 0]) < 1.0          # (chance shared cells add)
    frac, _ = replay(r["network"], learned)                                  # recall down to the input
    assert torch.equal((frac >= 1).to(torch.uint8), torch.from_numpy(bits(16, FIXTURE_INPUTS)))


# -- invariant 2: SISC ------------------------------------------------------------------------------
@pytest.mark.parametrize("csa", [CSAParams(), CSAParams(inflection=0.5, steepness=28.0)],
                         ids=["default", "graded"])
def test_sisc_monotone_and_chance_for_novel(csa):
    Q, K, s = 8, 8, 8
    curve = sisc_curve(n=64, s=s, Q=Q, K=K, trials=60, csa=csa, seed=1)
    chance = Q / K
    assert abs(curve[0] - chance) < 0.35 and abs(curve[1] - chance) < 0.35   # novel: chance
    assert curve[-1] > Q - 0.2                                                # identical: same code
    assert np.all(np.diff(curve) > -0.4)                                      # monotone (within noise)
    assert np.all(np.diff(curve[s // 2:]) >= -0.1) and curve[-2] > curve[2] + 2


# -- invariant 3: fixed time per frame --------------------------------------------------------------
def test_time_per_frame_independent_of_stored_items():
    rng = np.random.default_rng(0)
    items = random_inputs(rng, 2000, 200, 8)
    probe = random_inputs(rng, 200, 200, 8)
    net = single_mac(200, 8, 64, seed=0)
    net.learn_items(items[:10])
    net.recognise_items(probe[:5])           # compiled

    def frame_time():            # best CPU time of 5 (CPU time: robust to other processes' load)
        best = np.inf
        for _ in range(5):
            t0 = time.process_time()
            net.run(probe[:, None], mode="prob", reset=np.ones((200, 1)))
            best = min(best, time.process_time() - t0)
        return best

    few = frame_time()
    net.learn_items(items[10:])
    many = frame_time()
    assert many < 2.5 * few + 1e-3, (few, many)


# -- invariant 4: capacity depends on Q, K and input sparsity --------------------------------------
def test_capacity_degrades_gracefully_and_depends_on_k_and_sparsity():
    counts = [20, 100, 400]
    base = capacity_curve(counts, n=64, s=6, Q=8, K=8, seed=0)
    wide = capacity_curve(counts, n=64, s=6, Q=8, K=32, seed=0)
    dense = capacity_curve(counts, n=64, s=12, Q=8, K=8, seed=0)
    for r in (base, wide, dense):
        assert r["identified"][0] == 1.0
        assert all(b <= a + 0.02 for a, b in zip(r["exact"], r["exact"][1:]))
        assert all(b >= a for a, b in zip(r["saturation"], r["saturation"][1:]))
    assert wide["exact"][1] > base["exact"][1] + 0.2          # more cells per CM: more capacity
    assert dense["exact"][1] < base["exact"][1]               # denser inputs: less


# -- network structure -------------------------------------------------------------------------------
def test_band_receptive_fields_horizontal_and_top_down_sources():
    net = SparseyNetwork((2, 12, 8), [Level(Q=2, K=3, grid=(3, 2), rf=(6, 4), horizontal=1, top_down=True),
                                      Level(Q=3, K=2, grid=(1, 2), rf=(3, 1))])
    lay = net.layout
    win = lay.windows[0]
    assert win[:, 0].tolist() == [0, 0, 3, 3, 6, 6] and win[:, 1].tolist() == [0, 4] * 3
    for m in range(6):
        src = lay.sources(m, 0)
        assert len(src) == 2 * 6 * 4                                # both channels of the window
        r, c = src % 96 // 8, src % 8
        assert r.min() == win[m, 0] and r.max() == win[m, 0] + 5 and c.min() == win[m, 1]
    # H: Chebyshev radius 1 on the 3x2 grid; D: the level-2 mac whose window holds the mac
    cells = 6
    assert len(lay.sources(0, 1)) == 4 * cells and len(lay.sources(2, 1)) == 6 * cells
    top0 = lay.mi[6, sm.MI_CELL]
    assert set(lay.sources(0, 2)) == set(range(top0, top0 + 6))
    assert len(lay.sources(6, 0)) == 3 * cells and len(lay.sources(6, 2)) == 0


def test_gate_persistence_and_freezing():
    net = SparseyNetwork((4, 4), [Level(Q=3, K=4, min_active=2, max_active=5, persistence=3, freeze=0.05)],
                         seed=1)
    x = np.zeros((5, 1, 4, 4), np.uint8)
    x[0, 0, 0, :3] = 1                       # 3 active: on
    x[1, 0, 1, :2] = 1                       # kept (persistence), learns this input too
    x[3, 0, 2, :1] = 1                       # 1 active: off (gate)
    x[4, 0, :2, :3] = 1                      # 6 active: off (above max)
    out, _ = net.learn(x)
    assert out.evidence[:, 0, 0].tolist() == [0, sm.EV_PERSIST, sm.EV_PERSIST, sm.EV_OFF, sm.EV_OFF]
    assert torch.equal(out.codes[1], out.codes[0]) and torch.equal(out.codes[2], out.codes[0])
    assert (out.codes[3:] == -1).all()
    w = net.weight_block(0, 0)
    cols = np.arange(3) * 4 + out.codes[0, 0].numpy()
    assert w[np.ix_([0, 1, 2, 4, 5], cols)].all() and w.sum() == 5 * 3
    assert bool(net.frozen(0)[0, 0])          # 15 of 16 * 12 ones >= 5 %: frozen
    before = net.weights.w.clone()
    net.learn(np.ones((1, 1, 4, 4), np.uint8) * np.eye(4, dtype=np.uint8)[None, None])
    assert torch.equal(net.weights.w, before)


def test_batch_learning_matches_sequential_for_one_sequence_and_state_round_trip(tmp_path):
    rng = np.random.default_rng(4)
    x = (rng.random((6, 1, 10, 10)) < 0.2).astype(np.uint8)
    levels = [Level(Q=3, K=4, grid=(2, 2), rf=(5, 5), horizontal=1), Level(Q=4, K=4)]
    a, b = SparseyNetwork((10, 10), levels, seed=2), SparseyNetwork((10, 10), levels, seed=2)
    out_all, state = a.learn(x)
    outs, s = [], None
    for t in range(6):
        o, s = b.learn(x[t:t + 1], s)
        outs.append(o.codes)
    assert torch.equal(torch.cat(outs), out_all.codes) and torch.equal(a.weights.w, b.weights.w)
    torch.save(a.state_dict(), tmp_path / "sparsey.pt")
    c = SparseyNetwork((10, 10), levels)
    c.load_state_dict(torch.load(tmp_path / "sparsey.pt", weights_only=True))
    assert torch.equal(c.weights.w, a.weights.w) and c.frames_seen == 6 and c.seed == 2
    saved = a.state_dict()
    a.learn(1 - x)                                               # a copy: later learning leaves it
    assert not torch.equal(saved["w"], a.weights.w)
    a.load_state_dict(saved)
    assert torch.equal(a.weights.w, c.weights.w) and a.frames_seen == 6
    with pytest.raises(ValueError, match="state_dict"):
        SparseyNetwork((10, 10), levels[:1]).load_state_dict(a.state_dict())


# -- recall and readouts -----------------------------------------------------------------------------
def test_top_down_replay_reinstates_codes_and_input():
    rng = np.random.default_rng(0)
    items = random_inputs(rng, 5, 24 * 16, 60).reshape(5, 24, 16)
    net = SparseyNetwork((24, 16), [Level(Q=8, K=16, grid=(4, 4), rf=(6, 4)), Level(Q=8, K=32)], seed=0)
    out = net.learn_items(items)
    frac, codes = replay(net, out.codes, level=-1)
    assert torch.equal(codes, out.codes)                     # L2 -> L1 codes exactly
    recalled = (frac >= 1).numpy()
    assert recalled[items == 1].all()                        # every learned pixel comes back
    novel = (out.familiarity[:, :16] < 1).all(1).numpy()     # items that reused no L1 code ...
    assert novel.any() and (recalled[novel] == items[novel]).all()   # ... come back exactly


def test_likelihood_and_hebbian_readout():
    codes = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 0], [3, 3, 3, 3], [-1, -1, 2, 3]])
    mem = CodeMemory(codes, torch.tensor([0, 0, 1, 1]))
    q = torch.tensor([0, 1, 2, 3])
    assert mem.overlaps(q).tolist() == [4, 3, 1, 2]
    lik = mem.likelihood(q)
    assert torch.allclose(lik, torch.tensor([0.4, 0.3, 0.1, 0.2], dtype=torch.float64))
    assert mem.nearest(q) == 0 and mem.predict(q) == 0
    none = mem.likelihood(torch.tensor([2, 2, 0, 1]))                        # meets no stored code
    assert torch.allclose(none, torch.full((4,), 0.25, dtype=torch.float64))
    assert code_overlap(torch.tensor([-1, 2]), torch.tensor([-1, 2])) == 1
    for scoring in ("log", "mean"):
        ro = HebbianReadout(4, 4, 2, scoring=scoring).learn(codes, torch.tensor([0, 0, 1, 1]))
        assert ro.predict(torch.tensor([[0, 1, 2, 1], [3, 3, 3, 2]])).tolist() == [0, 1]
    with pytest.raises(ValueError, match="labels"):
        HebbianReadout(4, 4, 2).learn(codes, torch.tensor([0, 1, 2, 0]))
    with pytest.raises(ValueError, match="CMs"):
        HebbianReadout(5, 4, 2).learn(codes, torch.tensor([0, 0, 1, 1]))


def test_digits_single_pass_beats_chance():
    x, y = binary_digits("train")
    xt, yt = binary_digits("test")
    assert x.shape[1:] == (24, 16) and set(np.unique(x)) <= {0, 1}
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.nonzero(y == c)[0], 10, replace=False) for c in range(10)])
    net = SparseyNetwork((24, 16), [Level(Q=8, K=32, grid=(8, 6), rf=(4, 4)),
                                    Level(Q=8, K=128, grid=(2, 2), rf=(5, 4))], seed=0)
    out = net.learn_items(x[idx])
    test = net.recognise_items(xt)
    for level in (0, 1):
        c0, c1 = net.cm_range(level)
        ro = HebbianReadout(c1 - c0, net.levels[level].K, 10)
        ro.learn(out.codes[:, c0:c1], torch.from_numpy(y[idx]))
        acc = (ro.predict(test.codes[:, c0:c1]).numpy() == yt).mean()
        assert acc > 0.35, (level, acc)


def test_thinning():
    bar = np.zeros((1, 9, 24), np.uint8)
    bar[0, 2:7, 1:23] = 1                                    # a 5-pixel-thick bar
    line = thin(bar)[0]
    assert line[4, 4:19].all() and line.sum() == line[4].sum()   # its one-pixel midline


# -- sequences ---------------------------------------------------------------------------------------
def test_sequences_recognised_from_any_frame_and_in_a_stream():
    seqs, _ = event_sequences(count=8, window_us=10_000, pool=1, polarity="on")
    seqs = seqs[:, :8]
    S, T = seqs.shape[:2]
    levels = [Level(Q=8, K=32, grid=(3, 3), rf=(8, 8), horizontal=1, top_down=True),
              Level(Q=8, K=64, horizontal=0)]
    net = SparseyNetwork(seqs.shape[2:], levels, seed=0)
    learned = learn_sequences(net, seqs)
    assert (midway_recognition(net, seqs, learned) > 0.95).all()
    order, starts = list(range(S)), [0] + [T // 2] * (S - 1)       # switch sequences without a reset
    sid = np.concatenate([[s] * (T - k) for s, k in zip(order, starts)])
    fid = np.concatenate([np.arange(k, T) for k in starts])
    cms = slice(*net.cm_range(-1))
    scores = {}
    for backoff in (True, False):
        codes, ev = stream(net, seqs, order, starts, backoff=backoff)
        scores[backoff] = sequence_scores(learned, codes, sid, fid, cms)["exact"].mean()
        if backoff:
            assert (ev == 3).any()                                  # U alone after each switch
    assert scores[True] > 0.9 and scores[True] > scores[False] + 0.3

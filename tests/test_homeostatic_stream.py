"""Concept-shift streams: schedules, label permutations, determinism by seed."""

import pytest
import torch

from neuro.models.homeostatic import (
    ConceptShiftStream,
    Every,
    Never,
    PerEpoch,
    Piecewise,
    Seasonal,
    make_schedule,
)


def test_every_and_per_epoch_schedules():
    assert Every(150).until(600) == [150, 300, 450, 600]
    assert Never().until(10_000) == []
    # the paper's swapsperepoch: evenly spaced inside each epoch, the last at the epoch's end
    assert PerEpoch(3, 1430).until(2 * 1430) == [477, 953, 1430, 1907, 2383, 2860]
    assert make_schedule(gap=0) == Never()
    assert make_schedule(swaps_per_epoch=2, epoch_size=100).until(200) == [50, 100, 150, 200]
    with pytest.raises(ValueError, match="gap"):
        Every(0)
    with pytest.raises(ValueError, match="at most one"):
        make_schedule(gap=10, swaps_per_epoch=2, epoch_size=100)


def test_second_order_schedules():
    # the rate itself changes: every 100 until 400, calm until 1000, then every 50
    pw = Piecewise(((0, 100), (400, None), (1000, 50)))
    assert pw.until(1200) == [100, 200, 300, 1050, 1100, 1150, 1200]
    season = Seasonal((300, 300), (100, None))  # fast season, calm season, repeating
    assert season.until(1500) == [100, 200, 700, 800, 1300, 1400]
    with pytest.raises(ValueError, match="start at 0"):
        Piecewise(((10, 5),))


def test_swaps_compose_as_transpositions_of_current_labels():
    stream = ConceptShiftStream(10, Every(100), seed=3)
    swaps = stream.swaps(300)
    assert [s.time for s in swaps] == [100, 200, 300]
    perm = torch.arange(10)
    for s in swaps:
        a_pos, b_pos = perm == s.a, perm == s.b
        perm[a_pos], perm[b_pos] = s.b, s.a
        assert s.a != s.b
    assert torch.equal(stream.permutation(300), perm)
    assert torch.equal(stream.permutation(99), torch.arange(10))  # before the first swap
    first = swaps[0]
    labels = torch.tensor([first.a, first.b, 11 % 10])
    seen = stream.relabel(labels, 150)
    assert seen[0] == first.b and seen[1] == first.a
    assert sorted(stream.permutation(10_000).tolist()) == list(range(10))  # always a permutation


def test_deterministic_by_seed_and_query_order():
    a = ConceptShiftStream(10, Every(50), seed=7)
    b = ConceptShiftStream(10, Every(50), seed=7)
    far = b.permutation(5000)  # b is queried far ahead first
    assert torch.equal(a.permutation(250), b.permutation(250))
    assert torch.equal(a.permutation(5000), far)
    assert a.swaps(5000) == b.swaps(5000)
    c = ConceptShiftStream(10, Every(50), seed=8)
    assert c.swaps(5000) != a.swaps(5000)
    assert a.count(5000) == 100 and a.swaps(1000, start=900) == a.swaps(5000)[18:20]

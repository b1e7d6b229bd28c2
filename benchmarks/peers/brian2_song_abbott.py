"""Brian2's classic STDP network (Song, Miller & Abbott 2000; Brian2's ``examples/synapses/STDP.py``),
built in one place for ``stdp_song_abbott.py`` and ``stdp_speed.py`` (their Brian2 workers run in the
Brian2 interpreter: no neuro import here)."""


def song_abbott_network(b2, n_inputs: int, n_post: int, rate_hz: float, ns: dict):
    """Poisson inputs -> LIF neurons with the example's current synapse ``ge * (Ee - vr)`` and additive,
    event-driven pair STDP (weights clipped to ``[0, gmax]``, initial ``w ~ U(0, gmax)``); ``ns`` holds
    the example's constants with units. Returns ``(inputs, neurons, synapses)``."""
    inp = b2.PoissonGroup(n_inputs, rates=rate_hz * b2.Hz)
    neurons = b2.NeuronGroup(n_post, "dv/dt = (ge * (Ee-vr) + El - v) / taum : volt\ndge/dt = -ge / taue : 1",
                             threshold="v>vt", reset="v = vr", method="linear", namespace=ns)
    syn = b2.Synapses(inp, neurons, """w : 1
                      dApre/dt = -Apre / taupre : 1 (event-driven)
                      dApost/dt = -Apost / taupost : 1 (event-driven)""",
                      on_pre="""ge += w
                      Apre += dApre
                      w = clip(w + Apost, 0, gmax)""",
                      on_post="""Apost += dApost
                      w = clip(w + Apre, 0, gmax)""", namespace=ns)
    syn.connect()
    syn.w = "rand() * gmax"
    return inp, neurons, syn

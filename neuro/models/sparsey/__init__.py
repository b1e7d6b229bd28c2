r"""Sparsey (Rinkus 2010, 2014; Rinkus & Leveille 2017): sparse distributed codes chosen by the Code
Selection Algorithm, learned in a single trial, on fused Numba CPU / numba.cuda kernels.

**Model.** A *mac* is ``Q`` competitive modules (CMs) of ``K`` binary cells; a code is one active cell
per CM. A network is levels of macs (:class:`Level`), each a 2-D grid whose macs see a window of the
grid below (band connectivity: pixels for level 1, macs above), optionally the previous frame's codes
of neighbouring macs (horizontal, H) and of the macs above (top-down, D). Per frame and mac (the CSA,
equations in :mod:`neuro.kernels.sparsey_math`)::

    gate:  the mac is on when min_active <= pi_U <= max_active (pi_U: active units in its field)
    U_i = u_i / pi_U,  H_i = h_i / pi_H,  D_i = d_i / pi_D       binary-weight input sums, normalised
    V_i = U_i^lu H_i^lh D_i^ld                                   over the kinds present
    G   = mean over CMs of max V                                 familiarity
    eta = 1 + max(0, (G - G-) / (1 - G-))^gamma chi K            expansivity
    mu_i = (eta - 1) / (1 + exp(-s (V_i - phi))) + 1,  rho_i = mu_i / sum_CM mu
    winner per CM: drawn from rho (learning) or argmax V (recognition)
    learning: w(j, i) <- 1 for every active source j and winner i (single trial)

Novel inputs (G <= G-) get uniformly random codes, familiar ones reinstate their stored code, and
partly familiar ones partly overlapping codes: similar inputs, similar codes (SISC).

**Design decisions (the spec's open parameters), with their defaults:**

* *CSA numbers* (:class:`CSAParams`): ``G- = 0.1, gamma = 2, chi = 100`` are SparseyCore's defaults
  (``eta(G=1, K=8) = 801``). The V -> mu sigmoid is the ``(eta - 1) / (1 + f(V)) + 1`` family (mu >= 1,
  flat when eta -> 1) with a logistic ``f``; default **inflection 0.9, steepness 60**: a stored code
  is reused (win probability above 1/2 per CM) only when ~90 % of the active inputs match, close to
  Sparsey_Alt's effective threshold (its ``V = U^10`` with the sigmoid's midpoint at ``V = 0.42``, i.e.
  ``U = 0.92``). Milder sigmoids (inflection 0.5, steepness 28) give a more graded SISC curve but let
  partly matching inputs take over stored codes, whose weights then accept ever more inputs: on the
  embedded digits the level-2 readout falls to 11 % at 100 examples per class (50 % with the default;
  ``benchmarks/results/sparsey/digits.md``). The inflection's ratchet (SparseyCore raises it as a mac
  saturates) is not modelled.
* *Exponents* ``lambda_U = lambda_H = lambda_D = 1`` and ``gamma`` are integers, so every quantity is
  computed with ``+ - * /`` only (powers by multiplication, the exponential by ``exp_det``) and all
  backends agree bit for bit.
* *Activation gate*: ``min_active = 1`` (a mac with an empty field has no defined U and is off),
  ``max_active = None`` (no upper bound). Sparsey_Alt's density band ``[0.03, 0.08]`` of the field is
  ``min_active = ceil(0.03 R), max_active = floor(0.08 R)``.
* *Persistence* ``1`` (a new code every frame). With ``P > 1`` a code is kept for ``P`` frames and learns
  the bottom-up input of each of them (chunking); its H and D weights learn only when it is chosen.
* *Freezing* ``None`` (never): a bundle (U, H or D weights of one mac) freezes when its fraction of
  ones reaches ``freeze``. Freezing turns a saturated mac into a fixed encoder that silently stops
  storing new items, so it is opt-in; SparseyTestingSystem's demo uses 0.5.
* *Back-off* (recognition only): candidates every kind present, without D, without H, U alone,
  accepted at ``G >= (0.9, 0.93, 0.96)`` (SparseyCore's example values; dropping a factor can only
  raise G, hence the rising thresholds); U alone is the last resort. Learning never backs off, so the
  same input in two sequences keeps two context-dependent codes.
* *Batches*: ``B`` independent sequences share the weights; at each frame every sequence chooses
  with the weights as they were before the frame, then all update (binary latching commutes), so
  ``B = 1`` is exactly sequential learning.
* *Random numbers*: ``uniform(seed, frame counter, sequence * n_CM + CM)`` (SplitMix64), the same on
  every backend; the network's frame counter advances with every call.
* *Recall*: the bottom-up weights read transposed (binary Hebbian learning is symmetric) replay a
  code down to the input (:mod:`.recall`).

Modules: :mod:`.config` (parameters), :mod:`.topology` (receptive fields, packing), :mod:`.network`
(:class:`SparseyNetwork`), :mod:`.readout` (likelihood over stored items, Hebbian class readout),
:mod:`.recall`, :mod:`.sequences`, :mod:`.analysis` (the behavioural invariants), :mod:`.data`
(binary digits and event-frame sequences from the embedded datasets). Kernels: ``neuro.ops.sparsey``.
"""

from .analysis import capacity_curve, one_mac_fixture, sisc_curve
from .config import CSAParams, Level
from .network import SparseyNetwork, single_mac
from .readout import CodeMemory, HebbianReadout, code_cells, code_overlap
from .recall import replay
from .sequences import learn_sequences, midway_recognition, recognise_from, sequence_scores, stream

__all__ = [
    "CSAParams", "CodeMemory", "HebbianReadout", "Level", "SparseyNetwork", "capacity_curve", "code_cells",
    "code_overlap", "learn_sequences", "midway_recognition", "one_mac_fixture", "recognise_from", "replay",
    "sequence_scores", "single_mac", "sisc_curve", "stream",
]

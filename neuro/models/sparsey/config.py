"""The parameters of a Sparsey network: the CSA's numbers (:class:`CSAParams`) and the levels of macs
(:class:`Level`). Why each default was chosen: the package docstring (``neuro.models.sparsey``)."""

from __future__ import annotations

from dataclasses import dataclass, field


def _positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class CSAParams:
    """The numbers of the Code Selection Algorithm (equations: ``neuro.kernels.sparsey_math``).

    Args:
        g_minus: familiarity ``G-`` at and below which the choice is uniform (a novel input gets a
            random new code). SparseyCore's default, 0.1.
        gamma: integer exponent of the expansivity ``eta = 1 + x^gamma chi K``. SparseyCore: 2.
        chi: expansivity gain. SparseyCore: 100, so ``eta(G=1, K=8) = 801``.
        steepness: slope ``s`` of the V -> mu sigmoid.
        inflection: ``phi``, the V at the sigmoid's midpoint.
        lambda_u, lambda_h, lambda_d: integer exponents of U, H and D in ``V = U^lu H^lh D^ld``.
        backoff: familiarity thresholds of the back-off candidates tried in recognition: every kind
            of evidence, then without top-down, then without horizontal (U alone is the last resort,
            always accepted). SparseyCore's example values.
    """

    g_minus: float = 0.1
    gamma: int = 2
    chi: float = 100.0
    steepness: float = 60.0
    inflection: float = 0.9
    lambda_u: int = 1
    lambda_h: int = 1
    lambda_d: int = 1
    backoff: tuple[float, float, float] = (0.9, 0.93, 0.96)

    def __post_init__(self) -> None:
        if not 0.0 <= self.g_minus < 1.0:
            raise ValueError(f"g_minus must lie in [0, 1), got {self.g_minus!r}")
        for name in ("gamma", "lambda_u", "lambda_h", "lambda_d"):
            _positive_int(name, getattr(self, name), 0)
            if getattr(self, name) > 64:
                raise ValueError(f"{name} must be <= 64 (repeated multiplication), got {getattr(self, name)}")
        if not self.chi >= 0.0:
            raise ValueError(f"chi must be >= 0, got {self.chi!r}")
        if not self.steepness > 0.0:
            raise ValueError(f"steepness must be > 0, got {self.steepness!r}")
        if not -10.0 <= self.inflection <= 10.0:
            raise ValueError(f"inflection must lie in [-10, 10], got {self.inflection!r}")
        if len(self.backoff) != 3 or not all(0.0 <= v <= 1.0 for v in self.backoff):
            raise ValueError(f"backoff must be three thresholds in [0, 1], got {self.backoff!r}")


@dataclass(frozen=True)
class Level:
    """One level: a 2-D grid of macs, each ``Q`` CMs of ``K`` binary cells.

    Args:
        Q, K: CMs per mac and cells per CM (a code is ``Q`` of the ``Q K`` cells).
        grid: ``(rows, cols)`` of macs.
        rf: bottom-up receptive field ``(rows, cols)``, in pixels of the input (level 1) or in macs
            of the level below; windows are centred on each mac's position, spaced evenly and kept
            inside the grid below (band connectivity). ``None``: everything below.
        horizontal: radius (Chebyshev, in macs) of the horizontal sources: the previous frame's codes
            of the macs of this level within it, the mac itself included. ``None``: no H input.
        top_down: receive the previous frame's codes of the macs of the next level whose receptive
            field contains this mac (D input).
        min_active, max_active: activation gate. A mac is on when the number of active units in its
            bottom-up field lies in ``[min_active, max_active]`` (``None``: no upper bound); off, it
            outputs an empty code.
        persistence: frames a newly chosen code stays active (1: a new code every frame).
        freeze: fraction of ones at which a weight bundle (U, H or D of one mac) stops learning (a
            critical period); ``None``: never.
        csa: the CSA's numbers.
    """

    Q: int
    K: int
    grid: tuple[int, int] = (1, 1)
    rf: tuple[int, int] | None = None
    horizontal: int | None = None
    top_down: bool = False
    min_active: int = 1
    max_active: int | None = None
    persistence: int = 1
    freeze: float | None = None
    csa: CSAParams = field(default_factory=CSAParams)

    def __post_init__(self) -> None:
        _positive_int("Q", self.Q)
        _positive_int("K", self.K)
        if len(self.grid) != 2:
            raise ValueError(f"grid must be (rows, cols), got {self.grid!r}")
        _positive_int("grid rows", self.grid[0])
        _positive_int("grid cols", self.grid[1])
        if self.rf is not None:
            if len(self.rf) != 2:
                raise ValueError(f"rf must be (rows, cols) or None, got {self.rf!r}")
            _positive_int("rf rows", self.rf[0])
            _positive_int("rf cols", self.rf[1])
        if self.horizontal is not None:
            _positive_int("horizontal", self.horizontal, 0)
        _positive_int("min_active", self.min_active)
        if self.max_active is not None and (not isinstance(self.max_active, int)
                                            or self.max_active < self.min_active):
            raise ValueError(f"max_active must be an integer >= min_active ({self.min_active}) or None, "
                             f"got {self.max_active!r}")
        _positive_int("persistence", self.persistence)
        if self.freeze is not None and not 0.0 < self.freeze <= 1.0:
            raise ValueError(f"freeze must lie in (0, 1] or be None, got {self.freeze!r}")
        if not isinstance(self.csa, CSAParams):
            raise TypeError(f"csa must be a CSAParams, got {self.csa!r}")

    @property
    def n_macs(self) -> int:
        """Number of macs of the level, ``grid[0] * grid[1]``."""
        return self.grid[0] * self.grid[1]

    @property
    def cells(self) -> int:
        """Cells per mac, ``Q K``."""
        return self.Q * self.K

"""Physical parameters are validated when set: NeuronParameters and every neuron module reject NaN,
inf and out-of-range values at construction, naming the parameter (and the first bad index)."""

import pytest
import torch

from neuro.functional import PARAMETER_RULES, NeuronParameters
from neuro.nn import (
    ALIF,
    AMSU,
    IF,
    LI,
    LIF,
    ALIFCell,
    CubaAMSU,
    CubaLI,
    CubaLICell,
    CubaLIF,
    CubaLIFCell,
    IFCell,
    Integrator,
    LICell,
    LIFCell,
)

NAN, INF = float("nan"), float("inf")
#: bad values per rule: (value, what the error says)
BAD = {"finite": [NAN, INF, -INF],
       "positive": [NAN, INF, -INF, 0.0, -5e-3],
       "unit": [NAN, INF, -0.1, 1.5]}
#: a valid value per parameter (taus >= dt = 1e-3 for Euler decays)
GOOD = {"v_th": 1.0, "v_reset": 0.0, "v_leak": 0.0, "r": 1.0, "tau_mem": 5e-3, "tau_syn": 2e-3,
        "tau_adapt": 50e-3, "w_in": 1.0, "beta_adapt": 0.2, "beta": 0.9, "alpha": 0.8}
PHRASE = {"finite": r"must be finite \(not NaN or inf\)", "positive": "must be positive and finite",
          "unit": r"must lie in \[0, 1\]"}

NEURONS = [IF, LIF, CubaLIF, ALIF, LI, CubaLI, IFCell, LIFCell, CubaLIFCell, ALIFCell, LICell,
           CubaLICell, AMSU, CubaAMSU, Integrator]


def _build(cls, **kwargs):
    if cls in (AMSU, CubaAMSU):
        return cls(4, domains=2, **kwargs)
    if cls is Integrator:
        return cls(4, **kwargs)
    return cls(**kwargs)


def _names(cls) -> list[str]:
    if cls is Integrator:
        return ["r"]  # its v_th, v_reset, v_leak are fixed
    names = list(cls.model.parameter_names)
    return names + (["beta"] if cls.model.leaky else [])


def _cases():
    for cls in NEURONS:
        for name in _names(cls):
            for bad in BAD[PARAMETER_RULES[name]]:
                yield pytest.param(cls, name, bad, id=f"{cls.__name__}-{name}-{bad}")


def _per_neuron(name: str, bad: float) -> torch.Tensor:
    values = torch.full((4,), GOOD[name], dtype=torch.float64)
    values[2] = bad
    return values


@pytest.mark.parametrize("cls,name,bad", list(_cases()))
def test_modules_reject_bad_scalars(cls, name, bad):
    with pytest.raises(ValueError, match=f"{name} {PHRASE[PARAMETER_RULES[name]]}, got"):
        _build(cls, **{name: bad})


@pytest.mark.parametrize("cls,name,bad", list(_cases()))
def test_modules_reject_bad_per_neuron_tensors_naming_the_index(cls, name, bad):
    with pytest.raises(ValueError, match=rf"{name} {PHRASE[PARAMETER_RULES[name]]}, got {name}\[2\] = "):
        _build(cls, **{name: _per_neuron(name, bad)})


@pytest.mark.parametrize("cls", [LIF, CubaLIF, ALIF, CubaLI])
def test_learned_parameters_are_validated_too(cls):
    with pytest.raises(ValueError, match=r"tau_mem must be positive and finite, got tau_mem\[2\]"):
        cls(4, tau_mem=_per_neuron("tau_mem", -1.0), learn_tau=True)
    with pytest.raises(ValueError, match="v_th must be finite"):
        cls(4, v_th=NAN, learn_threshold=True)


@pytest.mark.parametrize("name", list(PARAMETER_RULES))
def test_neuron_parameters_reject_bad_values(name):
    for bad in BAD[PARAMETER_RULES[name]]:
        with pytest.raises(ValueError, match=f"{name} {PHRASE[PARAMETER_RULES[name]]}, got {bad!r}"):
            NeuronParameters(**{name: bad})
        if name != "beta":
            with pytest.raises(ValueError, match=rf"{name}\[2\] = "):
                NeuronParameters(**{name: _per_neuron(name, bad)})
    with pytest.raises(ValueError, match=rf"got {name}\[1, 0\] = "):
        bad_2d = torch.full((2, 3), GOOD[name])
        bad_2d[1, 0] = NAN
        NeuronParameters(**{name: bad_2d})


def test_non_numeric_parameters_are_type_errors():
    with pytest.raises(TypeError, match="v_th must be a number or a tensor"):
        NeuronParameters(v_th="high")
    with pytest.raises(TypeError, match="r must be a real number or tensor"):
        LIF(r=torch.tensor([True, False]))


def test_boundary_values_are_accepted():
    # beta in [0, 1]: 0 is what tau_mem = dt gives with Euler, 1 no leak
    for beta in (0.0, 1.0):
        LIF(beta=beta)
        NeuronParameters(beta=beta)
    LIF(tau_mem=1e-3, dt=1e-3)  # Euler decay 0
    CubaLIF(4, v_leak=torch.linspace(-1, 1, 4), tau_syn=torch.full((4,), 1e-3), learn_tau=True)
    NeuronParameters(tau_mem=torch.tensor([1e-3, 1.0]), v_th=-2.0, v_reset=torch.zeros(3, 1))


def test_model_specific_decays_are_checked_at_construction():
    # positivity is the record's rule; tau >= dt (Euler) depends on the model and the step
    NeuronParameters(tau_syn=1e-4, dt=1e-3)  # fine: not every model reads tau_syn
    with pytest.raises(ValueError, match=r"tau_syn=\S+ is smaller than dt=0.001"):
        CubaLIF(tau_syn=1e-4)
    with pytest.raises(ValueError, match=r"tau_adapt=\S+ is smaller than dt"):
        ALIF(tau_adapt=5e-4)
    ALIF(tau_adapt=5e-4, integration="exact")
    LIF(tau_mem=1e-4, beta=0.5)  # beta given: tau_mem is not read


def test_errors_name_the_parameter_for_the_functional_api():
    from neuro.functional import LIF as LIF_MODEL
    from neuro.functional import neuron_scan

    x = torch.rand(3, 2, 4)
    with pytest.raises(ValueError, match=r"v_th must be finite \(not NaN or inf\), got v_th\[3\] = inf"):
        neuron_scan(LIF_MODEL, x, params=NeuronParameters(v_th=torch.tensor([1.0, 1.0, 1.0, INF])))

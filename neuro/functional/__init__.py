"""Stateless functions: one step (``*_step``) or a whole sequence (``*_scan``) of each model.

* LIF family (:mod:`neuro.functional.lif`): ``neuron_scan``, ``neuron_step`` and their states;
* ELM neuron (:mod:`neuro.functional.elm`): ``elm_scan``, ``elm_step``;
* astrocyte-modulated units (:mod:`neuro.functional.astro`): ``amsu_scan``;
* delays (:mod:`neuro.functional.delay`): ``delay_linear``, ``fixed_delay``.
"""

from neuro.functional.astro import (
                                    AMSUState,
                                    AstroParameters,
                                    CubaAMSUState,
                                    amsu_initial_state,
                                    amsu_scan,
                                    astro_coefficients,
)
from neuro.functional.elm import ELMState, elm_initial_state, elm_scan, elm_step
from neuro.functional.lif import (
                                    ALIF,
                                    CUBA_LI,
                                    CUBA_LIF,
                                    IF,
                                    LI,
                                    LIF,
                                    PARAMETER_RULES,
                                    ALIFState,
                                    CubaLIFState,
                                    CubaLIState,
                                    LIFState,
                                    LIState,
                                    NeuronModel,
                                    NeuronParameters,
                                    check_decays,
                                    coefficients,
                                    initial_state,
                                    make_config,
                                    neuron_scan,
                                    neuron_step,
)

__all__ = ["ALIF", "CUBA_LI", "CUBA_LIF", "IF", "LI", "LIF", "PARAMETER_RULES", "ALIFState",
           "CubaLIFState", "CubaLIState", "LIFState", "LIState", "NeuronModel", "NeuronParameters",
           "check_decays", "coefficients", "initial_state", "make_config", "neuron_scan",
           "neuron_step", "AMSUState", "AstroParameters", "CubaAMSUState", "amsu_initial_state",
           "amsu_scan", "astro_coefficients", "ELMState", "elm_initial_state", "elm_scan", "elm_step"]

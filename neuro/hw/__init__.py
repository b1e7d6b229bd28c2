"""Integer hardware emulation: fixed-point quantisation, a bit-exact simulator, hardware images.

* :class:`IntegerNetwork` / :class:`IntegerLayer` — integer weights (mantissa + shared exponent),
  neuron parameters and connectivity in a chip format (``"loihi"``, ``"xylo"``);
* :func:`quantize` — a trained float :class:`neuro.nn.Sequential` -> Loihi fixed point, with a
  per-layer scale search;
* :func:`emulate` — the bit-exact simulator (Numba CPU or numba.cuda; identical results);
* :func:`write_image` / :func:`read_image` — the HDF5 hardware image with its resource report;
* :func:`quantize_and_compare` — accuracy / decision agreement / spikes / synaptic operations of
  the float model versus its emulation.
"""

from neuro.hw.compare import QuantizationReport, compare, plot, quantize_and_compare
from neuro.hw.emulator import EmulatorResult, emulate
from neuro.hw.image import HardwareImageError, read_image, write_image
from neuro.hw.network import FORMATS, IntegerLayer, IntegerNetwork
from neuro.hw.quantize import quantize

__all__ = ["FORMATS", "EmulatorResult", "HardwareImageError", "IntegerLayer", "IntegerNetwork",
           "QuantizationReport", "compare", "emulate", "plot", "quantize", "quantize_and_compare",
           "read_image", "write_image"]

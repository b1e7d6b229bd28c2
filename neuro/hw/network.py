"""Integer networks for the hardware emulator: layers, formats, range checks, resource report.

An :class:`IntegerNetwork` is a chain of :class:`IntegerLayer`\\ s, each a dense integer weight
matrix (``[n_out, n_in]`` mantissas with one shared exponent) feeding integer neurons. Two formats
(equations in ``neuro.kernels.hw_math``):

* ``"loihi"`` — Intel Loihi's fixed-point LIF (Lava ``PyLifModelBitAcc``): 8-bit (configurable)
  weight mantissas with a shared exponent 0..7, 12-bit current/voltage decays ``du``/``dv``,
  13-bit bias mantissa with a 3-bit exponent, 17-bit threshold mantissa (``vth << 6``), 24-bit
  saturating state; update order: current decay + input, voltage decay + current + bias,
  threshold (``v > vth``), reset.
* ``"xylo"`` — SynSense Xylo's IAF neuron (``xylosim`` v2): 8-bit weights with a shift, 4-bit
  bit-shift decays, 16-bit saturating state and bias, threshold ``v >= vth``, subtract reset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from neuro.kernels import hw_math

RESETS = MappingProxyType({"zero": hw_math.RESET_ZERO, "subtract": hw_math.RESET_SUBTRACT,
                           "none": hw_math.RESET_NONE})


@dataclass(frozen=True)
class Format:
    """Register widths and parameter ranges of one chip's neuron."""

    name: str
    code: int
    state_bits: int
    decay_range: tuple[int, int]
    bias_mantissa_range: tuple[int, int]
    bias_exponent_range: tuple[int, int]
    threshold_range: tuple[int, int]
    threshold_shift: int
    max_weight_bits: int
    weight_exponent_range: tuple[int, int]
    #: bits per neuron for the resource report: state + decays + bias + threshold
    neuron_bits: int


FORMATS = MappingProxyType({
    "loihi": Format("loihi", hw_math.FMT_LOIHI, hw_math.LOIHI_BITS, (0, 4095), (-4096, 4095), (0, 7),
                    (0, 131071), 6, 8, (0, 7), 24 + 24 + 12 + 12 + 13 + 3 + 17),
    "xylo": Format("xylo", hw_math.FMT_XYLO, hw_math.XYLO_BITS, (0, 15), (-32768, 32767), (0, 0),
                   (0, 32767), 0, 8, (0, 7), 16 + 16 + 4 + 4 + 16 + 16),
})


@dataclass
class IntegerLayer:
    """One layer: ``[n_out, n_in]`` weight mantissas (shared exponent) and per-neuron integers."""

    name: str
    weight_mantissa: np.ndarray
    weight_exponent: int
    decay_u: np.ndarray
    decay_v: np.ndarray
    bias_mantissa: np.ndarray
    bias_exponent: np.ndarray
    threshold_mantissa: np.ndarray
    reset: str = "zero"
    #: integer voltage units per float unit (informational: how the layer was quantised)
    scale: float = 1.0

    @property
    def n_out(self) -> int:
        """Number of output neurons (rows of the weight matrix)."""
        return int(self.weight_mantissa.shape[0])

    @property
    def n_in(self) -> int:
        """Number of inputs (columns of the weight matrix)."""
        return int(self.weight_mantissa.shape[1])

    def effective_weights(self) -> np.ndarray:
        """The integer weights the chip applies, ``mantissa << exponent``, ``int64 [n_out, n_in]``."""
        return self.weight_mantissa.astype(np.int64) << int(self.weight_exponent)

    def effective_bias(self) -> np.ndarray:
        """The integer bias per neuron, ``mantissa << exponent``, ``int64 [n_out]``."""
        return self.bias_mantissa.astype(np.int64) << self.bias_exponent.astype(np.int64)


@dataclass
class IntegerNetwork:
    """A chain of integer layers in one chip format (``"loihi"`` or ``"xylo"``)."""

    format: str
    layers: list[IntegerLayer]
    weight_bits: int = 8
    current_overflow: str = "saturate"
    input_shape: tuple[int, ...] = ()
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def spec(self) -> Format:
        """The :class:`Format` of the network's chip (bit widths and value ranges)."""
        return FORMATS[self.format]

    @property
    def n_inputs(self) -> int:
        """Number of inputs of the first layer."""
        return self.layers[0].n_in

    def validate(self) -> None:
        """Raise a ValueError naming the layer and field of anything out of the format's range."""
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}, got {self.format!r}")
        spec = self.spec
        if not 2 <= self.weight_bits <= spec.max_weight_bits:
            raise ValueError(f"weight_bits must be in 2..{spec.max_weight_bits} for {self.format}, "
                             f"got {self.weight_bits}")
        if self.current_overflow not in ("saturate", "wrap"):
            raise ValueError(f"current_overflow must be 'saturate' or 'wrap', got "
                             f"{self.current_overflow!r}")
        if not self.layers:
            raise ValueError("an integer network needs at least one layer")
        wlo, whi = -(1 << (self.weight_bits - 1)), (1 << (self.weight_bits - 1)) - 1
        for k, layer in enumerate(self.layers):
            where = f"layer {k} ({layer.name!r})"
            if layer.weight_mantissa.ndim != 2:
                raise ValueError(f"{where}: weight_mantissa must be 2-D [n_out, n_in], got shape "
                                 f"{layer.weight_mantissa.shape}")
            if k and layer.n_in != self.layers[k - 1].n_out:
                raise ValueError(f"{where}: takes {layer.n_in} inputs but layer {k - 1} has "
                                 f"{self.layers[k - 1].n_out} neurons")
            if layer.reset not in RESETS:
                raise ValueError(f"{where}: reset must be one of {sorted(RESETS)}, got "
                                 f"{layer.reset!r}")
            checks = [("weight_mantissa", layer.weight_mantissa, (wlo, whi)),
                      ("decay_u", layer.decay_u, spec.decay_range),
                      ("decay_v", layer.decay_v, spec.decay_range),
                      ("bias_mantissa", layer.bias_mantissa, spec.bias_mantissa_range),
                      ("bias_exponent", layer.bias_exponent, spec.bias_exponent_range),
                      ("threshold_mantissa", layer.threshold_mantissa, spec.threshold_range),
                      ("weight_exponent", np.asarray(layer.weight_exponent), spec.weight_exponent_range)]
            for fname, arr, (lo, hi) in checks:
                arr = np.asarray(arr)
                if arr.dtype.kind not in "iu":
                    raise ValueError(f"{where}: {fname} must be integers, got dtype {arr.dtype}")
                if arr.size and (arr.min() < lo or arr.max() > hi):
                    raise ValueError(f"{where}: {fname} must lie in [{lo}, {hi}] for {self.format}, "
                                     f"got [{arr.min()}, {arr.max()}]")
                if fname not in ("weight_mantissa", "weight_exponent") and arr.shape != (layer.n_out,):
                    raise ValueError(f"{where}: {fname} must have shape ({layer.n_out},), got "
                                     f"{arr.shape}")

    def flat(self) -> dict[str, np.ndarray]:
        """The arrays the simulation kernels take (see ``neuro.kernels.hw_cpu``)."""
        spec = self.spec
        w, fanout, w_off, fo_off, n_off = [], [], [], [], [0]
        for layer in self.layers:
            eff = layer.effective_weights()
            w_off.append(sum(a.size for a in w))
            fo_off.append(sum(a.size for a in fanout))
            w.append(np.ascontiguousarray(eff.T).reshape(-1))  # presynaptic-major rows
            fanout.append((eff != 0).sum(0).astype(np.int64))
            n_off.append(n_off[-1] + layer.n_out)
        cat = lambda name: np.concatenate(  # noqa: E731
            [np.asarray(getattr(layer, name), np.int64).reshape(-1) for layer in self.layers])
        i64 = lambda v: np.asarray(v, np.int64)  # noqa: E731
        return dict(
            w=np.concatenate(w).astype(np.int64), w_off=i64(w_off), fanout=np.concatenate(fanout),
            fo_off=i64(fo_off), n_in=i64([layer.n_in for layer in self.layers]),
            n_out=i64([layer.n_out for layer in self.layers]), n_off=i64(n_off[:-1]),
            du=cat("decay_u"), dv=cat("decay_v"),
            bias=np.concatenate([layer.effective_bias() for layer in self.layers]),
            vth=cat("threshold_mantissa") << spec.threshold_shift,
            reset=i64([RESETS[layer.reset] for layer in self.layers]))

    def resources(self, spikes_per_inference: np.ndarray | None = None,
                  synops_per_inference: np.ndarray | None = None) -> dict:
        """Resource report: per layer and in total (memory in bits).

        ``synapses`` counts non-zero weights; synaptic memory = synapses x weight bits; neuron
        memory = neurons x the format's per-neuron bits (state, decays, bias, threshold). With the
        emulator's per-layer means, spikes and synaptic operations per inference are included.
        """
        rows = []
        for k, layer in enumerate(self.layers):
            nz = layer.weight_mantissa != 0
            fan_in, fan_out = nz.sum(1), nz.sum(0)
            rows.append({
                "layer": layer.name, "neurons": layer.n_out, "inputs": layer.n_in,
                "synapses": int(nz.sum()),
                "synaptic_memory_bits": int(nz.sum()) * self.weight_bits,
                "neuron_memory_bits": layer.n_out * self.spec.neuron_bits,
                "fan_in_max": int(fan_in.max(initial=0)), "fan_in_mean": float(fan_in.mean()),
                "fan_out_max": int(fan_out.max(initial=0)), "fan_out_mean": float(fan_out.mean()),
            })
            if spikes_per_inference is not None:
                rows[-1]["spikes_per_inference"] = float(spikes_per_inference[k])
            if synops_per_inference is not None:
                rows[-1]["synops_per_inference"] = float(synops_per_inference[k])
        total = {key: sum(r[key] for r in rows) for key in
                 ("neurons", "synapses", "synaptic_memory_bits", "neuron_memory_bits")}
        for key in ("spikes_per_inference", "synops_per_inference"):
            if rows and key in rows[0]:
                total[key] = float(sum(r[key] for r in rows))
        return {"format": self.format, "weight_bits": self.weight_bits, "layers": rows,
                "total": total}

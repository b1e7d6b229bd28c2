"""neuro: spiking and neuromorphic computing on fused Numba kernels (CPU and CUDA)."""

__version__ = "0.1.0"

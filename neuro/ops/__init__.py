"""Torch ops: pure-torch references (the oracles) and autograd Functions over the kernels."""

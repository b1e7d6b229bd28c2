"""Models built from the engine and the simulator (import the submodules, e.g. ``neuro.models.lsm``)."""

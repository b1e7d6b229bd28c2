"""Composed networks and experiments built from neuro's layers."""

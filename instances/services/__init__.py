"""Writes of the instances app, one module per concern."""

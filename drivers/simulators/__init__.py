"""Instrument simulators served on pseudo-terminals, for tests, demos and bench diagnostics."""

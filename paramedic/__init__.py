"""Paramedic wiring: configuration, CLI and service assembly. Nothing imports this package."""

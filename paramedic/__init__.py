"""Paramedic wiring: configuration, CLI and service assembly. Nothing imports this package."""

VERSION = "0.1.0"

__all__ = ["VERSION"]

"""Predictive scaling: load forecasts (``forecast``), the capacity simulator, the predictive policy."""

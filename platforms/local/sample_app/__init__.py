"""The sample app every instance of the local platform runs: HTTP service, metrics, fault injection."""

from platforms.local.sample_app.faults import KINDS, Fault, FaultRequestError, FaultState, parse_fault
from platforms.local.sample_app.server import SampleApp, route_of

__all__ = ["KINDS", "Fault", "FaultRequestError", "FaultState", "SampleApp", "parse_fault", "route_of"]

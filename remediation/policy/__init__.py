"""Policies as code: load and check policy files, unit-test them (``policy test``), replay history through
them (``policy backtest``), import Cloud Foundry App Autoscaler policies, and run scheduled policies."""

from remediation.policy.loader import (
    LoadedPolicy,
    PolicyError,
    PolicyProblem,
    load_policies,
    load_policy_file,
    load_policy_files,
    parse_policy_file,
    policy_version,
)

__all__ = [
    "LoadedPolicy",
    "PolicyError",
    "PolicyProblem",
    "load_policies",
    "load_policy_file",
    "load_policy_files",
    "parse_policy_file",
    "policy_version",
]

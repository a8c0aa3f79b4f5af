"""Remediation policies and actions (a later issue)."""

"""Operator dashboards (a later issue)."""

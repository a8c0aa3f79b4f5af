"""Platform API adapters shared by the collector (discovery) and remediation (actions)."""

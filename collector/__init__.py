"""Collector: agentless scraping of Prometheus/OpenMetrics targets."""

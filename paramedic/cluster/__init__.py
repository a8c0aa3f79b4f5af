"""Paramedic on several machines: membership, leader election with fencing, sharded scraping (etcd)."""

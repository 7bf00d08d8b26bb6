"""Durable jobs: the catalog's jobs table is the truth; queues only wake the workers."""

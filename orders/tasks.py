"""Thin Celery tasks of the orders queue (the pipeline's own steps live in their apps)."""

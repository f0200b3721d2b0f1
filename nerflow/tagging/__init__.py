"""Batch tagging of raw tweets: reading them, tagging them in resumable chunks (no Prefect)."""

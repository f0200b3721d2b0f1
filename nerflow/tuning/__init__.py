"""Hyper-parameter studies with Optuna: search spaces, studies, pruning (no Prefect)."""

"""Prefect steps (installed as `nerflow.tasks`): one module per step, each a thin wrapper."""

"""Prefect flows (installed as `nerflow.flows`): wiring only."""

"""Prefect glue shared by the steps: the cache and lock policy and the run's artifacts.

The only place outside `tasks/`, `flows/` and `deployments/` that imports Prefect.
"""

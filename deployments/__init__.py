"""Deployments (installed as `nerflow.deployments`): schedules and work pools."""

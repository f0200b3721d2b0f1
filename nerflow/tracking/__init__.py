"""Every MLflow call of the project: the store, runs, the logged model and the registry."""

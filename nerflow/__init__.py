"""nerflow: fine-tune, track and register NER models as a cached Prefect flow.

This package is the library: corpus, scoring, training, inference, tracking and reports,
with no Prefect import. The Prefect steps (`nerflow.tasks`), the flow (`nerflow.flows`) and
the deployments (`nerflow.deployments`) live in the repository's top-level `tasks/`,
`flows/` and `deployments/` folders, mapped under this name by `pyproject.toml`.
"""

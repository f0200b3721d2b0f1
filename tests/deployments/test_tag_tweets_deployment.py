"""prefect.yaml's tagging deployment: on demand, the tag-tweets flow, parameters it accepts."""

from __future__ import annotations

from pathlib import Path

import yaml

from nerflow.config import TrackingConfig
from nerflow.tagging.config import TaggingConfig

ROOT = Path(__file__).resolve().parents[2]


def test_prefect_yaml_tags_on_demand_with_the_tag_tweets_flow() -> None:
    from prefect.flows import load_flow_from_entrypoint

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text("utf-8"))
    [entry] = [e for e in spec["deployments"] if e["name"] == "tag-tweets-process"]
    assert "schedules" not in entry and "concurrency_limit" not in entry
    assert entry["work_pool"]["name"] == "nerflow-process"
    assert entry["work_pool"]["job_variables"]["env"]["PREFECT_LOGGING_EXTRA_LOGGERS"] == "nerflow"
    flow = load_flow_from_entrypoint(str(ROOT / entry["entrypoint"]))
    assert flow.name == "tag-tweets"
    schema = flow.parameters
    assert set(schema.required or []) == {"input_path", "output"}  # each run names them
    parameters = entry["parameters"]
    assert set(parameters) <= set(schema.properties)  # a misspelt parameter fails here
    TaggingConfig.model_validate(parameters.get("tagging", {}))
    TrackingConfig.model_validate(parameters.get("tracking", {}))

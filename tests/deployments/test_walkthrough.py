"""The retraining walk-through (docs/tutorial/retraining.md), small: BTC's training sections
arrive one at a time.

A real `prefect server` and a served deployment firing every 10 s. The base corpus is
section A (validation and test: the first tweets of H and F, to stay small); sections B,
E and G then come in with `ingest`, and the next scheduled firing after each retrains on
it. The registry ends with one version per section, each judged against the champion's
score on the same validation split, with the champion's F1 on the new file (staleness).
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from prefect.exceptions import ObjectNotFound

from nerflow.corpus.incoming import ingest
from nerflow.tracking.registry import list_versions
from tests.conftest import require, tiny_run_config
from tests.deployments.test_scheduled_retraining import (
    SERVE,
    completed_scheduled_run,
    prefect_api,
    task_states,
    wait_for,
)
from tests.processes import running
from tests.servers import PrefectServer

INTERVAL_S = 10
SECTION_TWEETS = {"a": 1000, "b": 2000, "e": 200, "g": 2138}


def first_tweets(source: Path, target: Path, count: int) -> None:
    """The first `count` tweets of a section file."""
    tweets = source.read_text(encoding="utf-8").split("\n\n")[:count]
    target.write_text("\n\n".join(tweets) + "\n", encoding="utf-8")


def test_sections_arrive_one_at_a_time_and_each_firing_retrains_and_judges(
    prefect_server: PrefectServer, tiny_model_dir: Path, btc_dir: Path, tmp_path: Path
) -> None:
    require((btc_dir / "g.conll").is_file(), "needs the local BTC copy")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(btc_dir / "a.conll", corpus / "train.conll")
    first_tweets(btc_dir / "h.conll", corpus / "validation.conll", 200)
    first_tweets(btc_dir / "f.conll", corpus / "test.conll", 200)
    (tmp_path / "mlruns").mkdir()
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    config = tiny_run_config(
        tiny_model_dir, uri, "walkthrough", "walk-ner", tmp_path / "work", corpus
    )
    incoming = config.data.incoming_dir
    assert incoming is not None
    (tmp_path / "run.json").write_text(config.model_dump_json(), encoding="utf-8")
    log = tmp_path / "serve.log"
    command = [sys.executable, "-c", SERVE, str(tmp_path / "run.json"), str(INTERVAL_S), "walk"]

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    with (
        running(command, prefect_server.client_env, log, cwd=tmp_path),
        prefect_api(prefect_server) as api,
    ):

        def find_deployment() -> Any:
            try:
                return api.read_deployment_by_name("train-ner/walk")
            except ObjectNotFound:
                return None

        deployment = wait_for(find_deployment, 90, "the served deployment", log)
        since = datetime.min.replace(tzinfo=UTC)
        for version, section in enumerate(["a", "b", "e", "g"], start=1):
            if section != "a":
                [added] = ingest([btc_dir / f"{section}.conll"], incoming)
                assert added.added
                since = datetime.now(UTC)
            fired = wait_for(
                lambda after=since: completed_scheduled_run(api, deployment.id, after),
                240,
                f"a scheduled run after section {section} arrived",
                log,
            )
            states = task_states(api, fired)
            assert states["train-model"] == "Completed", (section, states)
            mine = client.get_model_version("walk-ner", str(version))
            assert mine.tags["train_tweets"] == str(
                sum(SECTION_TWEETS[s] for s in "abeg"[: "abeg".index(section) + 1])
            )
            if section == "a":
                assert mine.tags["nerflow.promotion"].startswith("first-champion")
                continue
            # Judged against the champion scored on the same validation split...
            assert mine.tags["nerflow.promotion"].startswith(("promoted", "challenger"))
            assert "on the same split" in mine.tags["nerflow.promotion"]
            metrics = client.get_run(mine.run_id).data.metrics
            assert 0 <= metrics["champion_val_f1_same_data"] <= 1
            # ...and the champion's F1 on each incoming file it was not trained on (this
            # section's, and earlier ones when it is still an older version): staleness.
            stale = [k for k in metrics if k.startswith("champion_f1_on_new/")]
            assert any(k.startswith(f"champion_f1_on_new/{section}-") for k in stale), stale
            assert f" on {section}-" in mine.tags["staleness"]

    rows = list_versions(uri, "walk-ner")
    assert [row["train_tweets"] for row in rows] == ["1000", "3000", "3200", "5338"]
    assert rows[0]["decision"] == "first-champion"
    assert all(row["champion_val_f1"] for row in rows[1:])
    assert [row["data"] for row in rows] == [
        f"conll corpus{suffix}, @ mention-o"
        for suffix in ("", " + 1 incoming", " + 2 incoming", " + 3 incoming")
    ]
    # The last run plots F1 against training tweets over all four versions.
    last = client.get_model_version("walk-ner", "4").run_id
    points = json.loads(
        Path(
            client.download_artifacts(last, "data/f1_vs_training_tweets.json", str(tmp_path))
        ).read_text()
    )["points"]
    assert [p["train_tweets"] for p in points] == [1000, 3000, 3200, 5338]
    assert [p["label"] for p in points] == ["v1", "v2", "v3", "this run"]
    figures = {a.path for a in client.list_artifacts(last, "figures")}
    assert "figures/f1_vs_training_tweets.png" in figures

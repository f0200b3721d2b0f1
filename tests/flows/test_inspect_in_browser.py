"""What a user sees: a real tiny run in both UIs, opened in headless Chromium through the
links the run prints.

The flow runs against a `prefect server` on a free port (not 4200), started as `make server`
starts it, and logs to a SQLite MLflow store that `mlflow server` shows. Needs Debian's
`chromium` and `chromium-driver` (`make browser` installs them; CI does). Screenshots land
in test-output/browser/.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nerflow.flows.train_ner import train_ner

from nerflow.reporting.summary import RunSummary, format_summary
from tests.conftest import browser_binaries, tiny_run_config
from tests.processes import LOOPBACK, free_port, running, wait_http_ok
from tests.servers import drain_prefect_workers

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"


@pytest.fixture(scope="module", autouse=True)
def _browser_present() -> None:
    """Skip (or fail in CI) before the flow run and server start when there is no browser."""
    browser_binaries()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A temporary SQLite MLflow store."""
    root = tmp_path_factory.mktemp("ui-store")
    return f"sqlite:///{root / 'mlflow.db'}", root


@pytest.fixture(scope="module")
def mlflow_ui(store: tuple[str, Path]) -> Iterator[str]:
    """`mlflow server` on a free loopback port over the store; stopped afterwards."""
    uri, root = store
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")), "server",
        "--backend-store-uri", uri,
        "--default-artifact-root", str(root / "artifacts"),
        "--host", LOOPBACK, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = root / "mlflow-server.log"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with running(command, env, log) as server:
        url = f"http://{LOOPBACK}:{port}"
        wait_http_ok(f"{url}/health", server, log, timeout=120)
        yield url


@pytest.fixture(scope="module")
def prefect_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`prefect server start` with its UI on a free port, with the settings `make server`
    gives it (PREFECT_UI_API_URL: the UI calls this port's API, not 4200's)."""
    root = tmp_path_factory.mktemp("prefect-ui")
    port = free_port()
    api = f"http://{LOOPBACK}:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(root),
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{root / 'prefect.db'}",
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    prefect = str(Path(sys.executable).with_name("prefect"))
    command = [prefect, "server", "start", "--host", LOOPBACK, "--port", str(port)]
    log = root / "server.log"
    with running(command, env, log) as server:
        wait_http_ok(f"{api}/health", server, log, timeout=120)
        yield api


@pytest.fixture(scope="module")
def tiny_run(
    store: tuple[str, Path], tiny_model_dir: Path, prefect_ui: str, mlflow_ui: str
) -> dict:
    """One real flow run with the tiny model on that Prefect server; links to that MLflow UI."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    uri, root = store
    os.environ["NERFLOW_MLFLOW_UI"] = mlflow_ui  # where the printed links point
    try:
        with temporary_settings({PREFECT_API_URL: prefect_ui}):
            config = tiny_run_config(tiny_model_dir, uri, "ui-test", "ui-ner", root / "work")
            state = train_ner(**dict(config), return_state=True)
            summary = state.result()
            drain_prefect_workers()
    finally:
        os.environ.pop("NERFLOW_MLFLOW_UI")
    return {
        "uri": uri, "root": root, **summary["mlflow"], "links": summary["links"],
        "flow_run_id": str(state.state_details.flow_run_id),
        "text": format_summary(RunSummary.model_validate(summary)),
    }  # fmt: skip


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Debian Chromium driven by Selenium, with no calls out of this machine."""
    chromium, chromedriver = browser_binaries()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for_text(driver, *texts: str, timeout: float = 60) -> str:
    """Wait until the rendered page shows every text; return the page's visible text."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        body = driver.find_element(By.TAG_NAME, "body").text
        if all(text in body for text in texts):
            return body
        time.sleep(0.5)
    driver.save_screenshot(str(SHOTS / "failure.png"))
    raise AssertionError(f"page never showed {texts}; it shows: {body[:600]!r}")


def test_the_printed_links_open_the_right_pages(tiny_run: dict) -> None:
    for kind in ("run", "version", "experiment"):
        assert tiny_run["links"][kind] in tiny_run["text"], kind


def test_experiment_page_lists_the_run(browser, mlflow_ui: str, tiny_run: dict) -> None:
    from mlflow import MlflowClient

    name = MlflowClient(tracking_uri=tiny_run["uri"]).get_run(tiny_run["run_id"]).info.run_name
    browser.get(tiny_run["links"]["experiment"])
    # The training runs in MLflow's model-training mode (its sidebar has the registry, not
    # GenAI's traces and judges), with the scores as columns of the runs table.
    body = wait_for_text(browser, name, "Model registry", "val_f1", "test_f1")
    assert "Judges" not in body
    browser.save_screenshot(str(SHOTS / "experiment.png"))


def test_run_page_shows_description_dataset_and_metrics(
    browser, mlflow_ui: str, tiny_run: dict
) -> None:
    from mlflow import MlflowClient
    from selenium.webdriver.common.by import By

    base = tiny_run["links"]["run"]
    browser.get(base)
    # The description (scores, data, decision), the dataset with its source, the scores.
    shown = ("test_f1", "val_f1", "Promotion", "first-champion", "conll conll, @ mention-o / train")
    wait_for_text(browser, *shown)
    browser.save_screenshot(str(SHOTS / "run-overview.png"))
    client = MlflowClient(tracking_uri=tiny_run["uri"])
    [training] = [
        i.dataset for i in client.get_run(tiny_run["run_id"]).inputs.dataset_inputs
        if any(t.value == "training" for t in i.tags)
    ]  # fmt: skip
    assert "tests/fixtures/conll" in training.source and '"num_rows": 10' in training.profile
    # A curve with points at more than one time (the charts are not vertical lines).
    # (The system chart has a sample as training starts and one at its last step.)
    times = {m.timestamp for m in client.get_metric_history(tiny_run["run_id"], "system/rss_mb")}
    assert len(times) > 1
    page, _, mode = base.partition("?")
    assert mode == "workflowType=machine_learning"
    browser.get(f"{page}/model-metrics?{mode}")
    # Chart groups in the order that matters: the curves first, step timings after them.
    body = wait_for_text(browser, "train\n", "val_by_epoch\n", "walltime\n")
    assert body.index("train\n") < body.index("val_by_epoch\n") < body.index("walltime\n")
    browser.save_screenshot(str(SHOTS / "run-charts.png"))
    browser.get(f"{page}/artifacts/figures/per_type_scores.png?{mode}")
    wait_for_text(browser, "figures", "per_type_scores.png")
    deadline = time.monotonic() + 60
    loaded = False
    while time.monotonic() < deadline and not loaded:
        loaded = any(
            img.get_attribute("src") and (img.get_property("naturalWidth") or 0) > 200
            for img in browser.find_elements(By.TAG_NAME, "img")
        )
        time.sleep(0.5)
    browser.save_screenshot(str(SHOTS / "run-figure.png"))
    assert loaded, "the per-type figure did not render"


def test_registered_model_page_shows_version_and_alias(
    browser, mlflow_ui: str, tiny_run: dict
) -> None:
    browser.get(f"{mlflow_ui}/#/models/ui-ner")
    wait_for_text(browser, "Version 1", "champion", "NER tagger for tweets")
    browser.save_screenshot(str(SHOTS / "registered-model.png"))
    browser.get(tiny_run["links"]["version"])
    wait_for_text(
        browser, "Promotion", "first-champion", "NER model: PER, ORG, LOC in tweets",
        "Model registry",
    )  # fmt: skip
    browser.save_screenshot(str(SHOTS / "model-version.png"))


def test_prefect_ui_on_another_port_shows_the_named_run_and_its_log(
    browser, prefect_ui: str, tiny_run: dict
) -> None:
    assert not prefect_ui.endswith(":4200/api")
    ui = prefect_ui.removesuffix("/api")
    browser.get(f"{ui}/runs/flow-run/{tiny_run['flow_run_id']}")
    # The run's name says what it did; nerflow's own lines (the data, the training's
    # per-evaluation scores, the decision) are in its log.
    wait_for_text(
        browser, "retrained-v1-first-champion", "dataset ", "validation entity F1",
        "promotion first-champion",
    )  # fmt: skip
    browser.save_screenshot(str(SHOTS / "prefect-flow-run.png"))

"""What a user sees: a real tiny run in the MLflow UI, opened in headless Chromium.

Needs Debian's `chromium` and `chromium-driver` (`make browser` installs them; CI does).
Screenshots land in test-output/browser/.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nerflow.flows.train_ner import train_ner
from prefect.testing.utilities import prefect_test_harness

from tests.conftest import browser_binaries, tiny_run_config
from tests.processes import LOOPBACK, free_port, running, wait_http_ok

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "browser"


@pytest.fixture(scope="module", autouse=True)
def _browser_present() -> None:
    """Skip (or fail in CI) before the flow run and server start when there is no browser."""
    browser_binaries()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> dict:
    """One real flow run with the tiny model, tracked in a temporary SQLite store."""
    root = tmp_path_factory.mktemp("ui-store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    with prefect_test_harness(server_startup_timeout=120):
        config = tiny_run_config(tiny_model_dir, uri, "ui-test", "ui-ner", root / "work")
        summary = train_ner(**dict(config))
    return {"uri": uri, "root": root, **summary["mlflow"]}


@pytest.fixture(scope="module")
def mlflow_ui(tiny_run: dict) -> Iterator[str]:
    """`mlflow server` on a free loopback port over the run's store; stopped afterwards."""
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")), "server",
        "--backend-store-uri", tiny_run["uri"],
        "--default-artifact-root", str(tiny_run["root"] / "artifacts"),
        "--host", LOOPBACK, "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    log = tiny_run["root"] / "mlflow-server.log"
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with running(command, env, log) as server:
        url = f"http://{LOOPBACK}:{port}"
        wait_http_ok(f"{url}/health", server, log, timeout=120)
        yield url


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


def test_experiment_page_lists_the_run(browser, mlflow_ui: str, tiny_run: dict) -> None:
    from mlflow import MlflowClient

    name = MlflowClient(tracking_uri=tiny_run["uri"]).get_run(tiny_run["run_id"]).info.run_name
    browser.get(f"{mlflow_ui}/#/experiments/{tiny_run['experiment_id']}/runs")
    wait_for_text(browser, name)
    browser.save_screenshot(str(SHOTS / "experiment.png"))


def test_run_page_shows_metrics_and_figures(browser, mlflow_ui: str, tiny_run: dict) -> None:
    from selenium.webdriver.common.by import By

    base = f"{mlflow_ui}/#/experiments/{tiny_run['experiment_id']}/runs/{tiny_run['run_id']}"
    browser.get(base)
    wait_for_text(browser, "test_f1", "val_f1")
    browser.save_screenshot(str(SHOTS / "run-overview.png"))
    browser.get(f"{base}/artifacts/figures/per_type_scores.png")
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
    wait_for_text(browser, "Version 1", "champion")
    browser.save_screenshot(str(SHOTS / "registered-model.png"))

"""`nerflow serve-model`: the champion answers spans over HTTP, from any working directory."""

from __future__ import annotations

import json
import os
import socket
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
from mlflow import MlflowClient
from typer.testing import CliRunner

from nerflow.cli import app
from nerflow.tracking.model import log_model
from nerflow.tracking.registry import register_version
from nerflow.tracking.store import active_store
from tests.processes import LOOPBACK, free_port, running, wait_http_ok


def test_the_champion_is_served_over_http_and_answers_spans(
    classifier_dir: Path, tmp_path: Path
) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with active_store(uri), mlflow.start_run():
        model_uri = log_model(classifier_dir, "# card\n")
    version = register_version(uri, "served-ner", model_uri, {"val_f1": "0.5"})
    MlflowClient(tracking_uri=uri, registry_uri=uri).set_registered_model_alias(
        "served-ner", "champion", version
    )
    port = free_port()
    # PATH without the virtualenv's bin/: the command must find uvicorn by itself.
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    model = "models:/served-ner@champion"
    command = [sys.executable, "-m", "nerflow.cli", "serve-model", "--model", model,
               "--tracking-uri", uri, "--port", str(port)]  # fmt: skip
    log = tmp_path / "serve.log"
    with running(command, env, log, cwd=tmp_path) as server:
        wait_http_ok(f"http://{LOOPBACK}:{port}/ping", server, log, timeout=180)
        listening = {
            c.laddr.ip
            for c in psutil.net_connections("tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{port}/invocations",
            data=json.dumps({"inputs": ["Tim Cook visits Paris", ""]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            answer = json.loads(reply.read())
        status, refusal = post(port, {"inputs": [1, None, {}]})
        with ThreadPoolExecutor(8) as pool:  # concurrent requests, and one of 10 MB
            payloads = [{"inputs": [f"Tim Cook visits Paris {i}"]} for i in range(8)]
            concurrent = list(pool.map(lambda body: post(port, body), payloads))
        # 10 MB of blanks: the body is parsed whole, yet there is no word to run the model on.
        big_status, big = post(port, {"inputs": [" " * 10_000_000, "Paris"]})
    assert listening == {LOOPBACK}  # not reachable from other machines
    assert status == 400
    assert "item 0 is int" in refusal["message"] and "item 1 is null" in refusal["message"]
    assert [code for code, _ in concurrent] == [200] * 8
    assert big_status == 200 and len(big["predictions"]) == 2
    predictions = answer["predictions"]
    assert len(predictions) == 2 and predictions[1] == []
    for span in predictions[0]:  # a random tiny model: any spans, in the documented shape
        assert set(span) == {"type", "text", "start", "end", "score"}
        assert "Tim Cook visits Paris"[span["start"] : span["end"]] == span["text"]


def post(port: int, body: object) -> tuple[int, dict]:
    """POST a JSON body to /invocations: the status and the JSON answer, errors included."""
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{port}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_unknown_model_is_one_error_line_before_any_server_starts(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments()  # creates the store
    result = CliRunner().invoke(
        app, ["serve-model", "--model", "models:/nope@champion", "--tracking-uri", uri]
    )
    assert result.exit_code == 1
    assert "error: model 'models:/nope@champion' not found" in result.output


def test_a_busy_port_is_one_error_line_naming_it(tmp_path: Path) -> None:
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["serve-model", "--port", str(port), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"],
        )
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert line.startswith(f"error: port {port} on {LOOPBACK} is in use")

"""The registry and inference commands, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from nerflow.cli import app
from tests.conftest import FIXTURES

runner = CliRunner()


@pytest.fixture
def registry(tmp_path: Path) -> tuple[list[str], MlflowClient]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("btc-ner")
    for val in ("0.61", "0.66"):
        client.create_model_version(
            "btc-ner", source="file:///m", tags={"val_f1": val, "test_f1": "0.7", "base_model": "m"}
        )
    client.set_registered_model_alias("btc-ner", "champion", "1")
    return ["--tracking-uri", uri], client


def test_models_lists_versions_with_aliases_and_scores(
    registry: tuple[list[str], MlflowClient],
) -> None:
    options, _ = registry
    result = runner.invoke(app, ["models", *options])
    assert result.exit_code == 0, result.output
    header, first, second = result.output.strip().splitlines()
    assert header.split()[:7] == [
        "version", "aliases", "train_tweets", "data", "val_f1", "test_f1", "champion_val_f1"
    ]  # fmt: skip
    assert first.split()[:3] == ["1", "champion", "0.61"]  # unset tags are blank cells
    assert second.split()[:2] == ["2", "0.66"]


def test_promote_then_rollback(registry: tuple[list[str], MlflowClient]) -> None:
    options, client = registry
    result = runner.invoke(app, ["promote", "2", *options])
    assert result.exit_code == 0, result.output
    assert "version 1 -> 2" in result.output
    assert client.get_registered_model("btc-ner").aliases == {"champion": 2, "previous-champion": 1}
    result = runner.invoke(app, ["rollback", *options])
    assert result.exit_code == 0, result.output
    assert client.get_registered_model("btc-ner").aliases == {"champion": 1, "previous-champion": 2}


def test_promote_takes_the_prefect_servers_lock_where_one_is_configured(
    registry: tuple[list[str], MlflowClient], server_locks_taken: list[str]
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    options, client = registry
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        result = runner.invoke(app, ["promote", "2", *options])
    assert result.exit_code == 0, result.output
    [taken] = server_locks_taken
    assert taken.startswith("nerflow-registry-")
    assert client.get_registered_model("btc-ner").aliases["champion"] == 2


def test_promote_a_missing_version_fails_cleanly(registry: tuple[list[str], MlflowClient]) -> None:
    options, client = registry
    result = runner.invoke(app, ["promote", "9", *options])
    assert result.exit_code == 1
    assert "has no version '9'" in result.output
    assert client.get_registered_model("btc-ner").aliases == {"champion": 1}


def test_predict_texts_and_a_file_as_json_lines(classifier_dir: Path, tmp_path: Path) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text(
        "Tim Cook visits Berlin\n\n" + "paris " * 3000 + "\n😀 @BarackObama\n", encoding="utf-8"
    )
    result = runner.invoke(
        app,
        [
            "predict",
            "Sarah works for Starbucks",
            "--input",
            str(texts),
            "--model",
            str(classifier_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [row["id"] for row in rows] == [0, 1, 2, 3, 4]
    assert rows[2]["text"] == "" and rows[2]["entities"] == []
    for row in rows:
        for span in row["entities"]:
            assert row["text"][span["start"] : span["end"]] == span["text"]


def test_predict_with_an_unknown_model_uri_fails_cleanly(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = ["predict", "hi", "--model", "models:/nope@champion", "--tracking-uri", uri]
    result = runner.invoke(app, command)
    assert result.exit_code == 1 and "no MLflow store at" in result.output
    MlflowClient(tracking_uri=uri).search_experiments()  # now the store exists, empty
    result = runner.invoke(app, command)
    assert result.exit_code == 1
    assert "model 'models:/nope@champion' not found" in result.output


def test_evaluate_with_a_label_map_prints_per_type_scores(
    classifier_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.json"
    result = runner.invoke(
        app,
        [
            "evaluate", "--model", str(classifier_dir),
            "--data", str(FIXTURES / "other_tags.conll"),
            "--label-map", "person=PER,location=LOC,corporation=ORG", "--json", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 sentences, 5 gold entities" in result.output  # the product is unmapped
    scores = json.loads(out.read_text(encoding="utf-8"))
    assert scores["per_type"]["PER"]["support"] == 2
    assert scores["per_type"]["LOC"]["support"] == 2
    assert scores["per_type"]["ORG"]["support"] == 1


def test_evaluate_refuses_data_whose_types_map_onto_none_of_ours(classifier_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["evaluate", "--model", str(classifier_dir), "--data", str(FIXTURES / "other_tags.conll")],
    )
    assert result.exit_code == 1
    assert "types found: corporation, location, person, product" in result.output
    assert "--label-map corporation=ORG,location=LOC,person=PER" in result.output


def bioes_file(tmp_path: Path) -> Path:
    path = tmp_path / "bioes.conll"
    path.write_text(
        "Tim\tB-PER\nCook\tE-PER\nvisits\tO\nBerlin\tS-LOC\n\n"
        "New\tB-LOC\nYork\tE-LOC\nSarah\tS-PER\n",
        encoding="utf-8",
    )
    return path


def test_evaluate_refuses_bioes_data_read_as_iob2(classifier_dir: Path, tmp_path: Path) -> None:
    data = bioes_file(tmp_path)
    result = runner.invoke(
        app, ["evaluate", "--model", str(classifier_dir), "--data", str(data), "--scheme", "iob2"]
    )
    assert result.exit_code == 1
    assert f"{data}:2: tag 'E-PER' is BIOES" in result.output and "--scheme bioes" in result.output


def test_evaluate_detects_bioes_by_default(classifier_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    result = runner.invoke(
        app,
        ["evaluate", "--model", str(classifier_dir), "--data", str(bioes_file(tmp_path)),
         "--json", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text(encoding="utf-8"))
    assert scores["scheme"] == "bioes" and scores["support"] == 4  # Tim Cook, Berlin, NY, Sarah


def test_evaluate_a_bad_label_map_fails_cleanly(classifier_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["evaluate", "--model", str(classifier_dir), "--data", str(FIXTURES / "other_tags.conll"),
         "--label-map", "product=MISC"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "target 'MISC'" in result.output


def test_evaluate_can_log_its_scores_to_mlflow(classifier_dir: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = runner.invoke(
        app,
        ["evaluate", "--model", str(classifier_dir), "--data", str(FIXTURES / "conll"),
         "--log-to-mlflow", "--tracking-uri", uri],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = result.output.strip().splitlines()[-1].split()[4]
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    assert run.data.params["data"].endswith("conll")
    assert 0.0 <= run.data.metrics["f1"] <= 1.0 and "PER_f1" in run.data.metrics


def test_predict_in_bf16_and_an_unknown_precision(classifier_dir: Path) -> None:
    args = ["predict", "Tim Cook visits Berlin", "--model", str(classifier_dir)]
    result = runner.invoke(app, [*args, "--precision", "bf16"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"] == "Tim Cook visits Berlin"
    result = runner.invoke(app, [*args, "--precision", "int8"])
    assert result.exit_code == 1
    assert "--precision 'int8': use auto, fp32, bf16, fp16" in result.output


def test_read_only_commands_never_create_a_store(tmp_path: Path) -> None:
    typo = tmp_path / "mlflow.db"
    result = runner.invoke(app, ["models", "--tracking-uri", f"sqlite:///{typo}"])
    assert result.exit_code == 1 and "no MLflow store at" in result.output
    assert not typo.exists()


def test_a_corrupted_store_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "mlflow.db"
    broken.write_bytes(b"garbage" * 500)
    result = runner.invoke(app, ["models", "--tracking-uri", f"sqlite:///{broken}"])
    assert result.exit_code == 1 and "cannot be read" in result.output
    assert "Traceback" not in result.output


def test_an_invalid_alias_is_one_line(registry: tuple[list[str], MlflowClient]) -> None:
    options, _ = registry
    result = runner.invoke(app, ["promote", "2", "--alias", "v3", *options])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output


def test_predict_keeps_unicode_line_separators_inside_their_line(
    classifier_dir: Path, tmp_path: Path
) -> None:
    texts = tmp_path / "texts.txt"
    texts.write_text("first line\u2028still the first\r\nsecond\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", "--model", str(classifier_dir), "--input", str(texts)])
    assert result.exit_code == 0, result.output
    assert "\u2028" not in result.stdout  # escaped: a JSON lines reader splits on it
    rows = [json.loads(line) for line in result.stdout.strip().split("\n")]
    assert [r["id"] for r in rows] == [0, 1]
    assert rows[0]["text"] == "first line\u2028still the first" and rows[1]["text"] == "second"


def test_predict_names_a_binary_input_file(classifier_dir: Path, tmp_path: Path) -> None:
    binary = tmp_path / "weights.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\x00")
    result = runner.invoke(app, ["predict", "--model", str(classifier_dir), "--input", str(binary)])
    assert result.exit_code == 1
    assert f"{binary}:1: not UTF-8 (byte 0x89 at offset 0)" in result.output


def test_commands_against_a_dead_tracking_server_fail_in_seconds() -> None:
    import time

    from tests.processes import LOOPBACK, free_port

    uri = f"http://{LOOPBACK}:{free_port()}"
    for command in (["models"], ["predict", "hi", "--model", "models:/btc-ner@champion"]):
        started = time.monotonic()
        result = runner.invoke(app, [*command, "--tracking-uri", uri])
        assert result.exit_code == 1 and f"{uri} does not answer" in result.output
        assert time.monotonic() - started < 15

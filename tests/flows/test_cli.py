from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app, build_config

runner = CliRunner()


def test_options_override_the_config_file_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        '[training]\nepochs = 5\nlearning_rate = 3e-5\n[tracking]\nexperiment = "nightly"\n',
        encoding="utf-8",
    )
    run = build_config(config, {"training": {"epochs": 2.0}, "data": {}}, None)
    assert run.training.epochs == 2.0
    assert run.training.learning_rate == 3e-5
    assert run.tracking.experiment == "nightly"
    assert run.training.batch_size == 32


def test_a_bad_config_file_names_the_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[training]\nlearning_rate = -1\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 2
    assert "run.toml" in result.output and "learning_rate" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--epochs", "0"], "epochs"),
        (["--learning-rate", "-0.1"], "learning_rate"),
        (["--source", "conll"], "needs data.local_dir"),
        (["--source", "nope"], "source"),
    ],
)
def test_invalid_options_exit_2_before_any_work(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 2
    assert message in result.output

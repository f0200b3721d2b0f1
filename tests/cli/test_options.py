from pathlib import Path

import pytest
from typer.testing import CliRunner

from nerflow.cli import app
from nerflow.cli.options import build_config

runner = CliRunner()


def test_options_override_the_config_file_which_overrides_defaults(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        '[training]\nepochs = 5\nlearning_rate = 3e-5\n[tracking]\nexperiment = "nightly"\n',
        encoding="utf-8",
    )
    run = build_config(config, {"training": {"epochs": 2.0}, "data": {}})
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


def test_option_help_and_defaults_come_from_the_config_models() -> None:
    from nerflow.config import TrainingConfig

    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    described = TrainingConfig.model_fields["learning_rate"].description
    assert described and described in " ".join(result.output.split())
    assert "[0.0001]" in result.output  # TrainingConfig's default, not a copy of it


def test_every_option_lands_on_its_config_field(tmp_path: Path) -> None:
    from nerflow.cli.options import collect_overrides
    from nerflow.cli.train import TRAIN_OPTIONS

    given = {name: None for name in TRAIN_OPTIONS}
    given.update(data_dir=tmp_path, hub_dataset="org/ds", learning_rate=3e-5, work_dir=tmp_path)
    run = build_config(None, collect_overrides(TRAIN_OPTIONS, given))
    assert run.data.local_dir == tmp_path and run.data.hub_id == "org/ds"
    assert run.training.learning_rate == 3e-5 and run.work_dir == tmp_path
    assert run.training.epochs == 3.0  # not given: the default stands


def test_help_keeps_bracketed_text() -> None:
    # Rich markup would read "[btc-ner-tune]" as a style and drop it.
    tune = runner.invoke(app, ["tune", "--help"], env={"COLUMNS": "200"})
    assert tune.exit_code == 0
    assert "study name: a rerun with the same name resumes it [btc-ner-tune]" in " ".join(
        tune.output.split()
    )  # TuneConfig's description and default, as for every config option
    train = runner.invoke(app, ["train", "--help"])
    assert "[data] [model] [training] [tracking]" in " ".join(train.output.split())


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (b'[training]\nlearning_rate = "0.001"\n', "training.learning_rate: Input should be"),
        (b"[training]\nepochs = true\n", "training.epochs: Input should be a valid number"),
        (b"[training]\n# \xff\n", "run.toml:2: not UTF-8 (byte 0xff"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_file_and_field(
    tmp_path: Path, toml: bytes, message: str
) -> None:
    config = tmp_path / "run.toml"
    config.write_bytes(toml)
    result = runner.invoke(app, ["train", "--config", str(config)], env={"COLUMNS": "500"})
    assert result.exit_code == 2
    [line] = result.output.splitlines()
    assert line.startswith(f"invalid configuration: {config}") and message in line


def test_a_work_dir_that_is_a_file_exits_2_naming_it(tmp_path: Path) -> None:
    taken = tmp_path / "work"
    taken.write_text("", encoding="utf-8")
    result = runner.invoke(app, ["train", "--work-dir", str(taken)])
    assert result.exit_code == 2
    assert result.output == f"invalid configuration: work_dir: {taken} is a file, not a folder\n"


def test_study_and_tagging_settings_come_from_their_table_then_options(tmp_path: Path) -> None:
    from nerflow.cli.options import build_section
    from nerflow.tagging.config import TaggingConfig
    from nerflow.tuning.config import TuneConfig

    config = tmp_path / "run.toml"
    config.write_text(
        '[tune]\nstudy = "lr"\ntrials = 4\n[tagging]\nchunk_size = 50\n', encoding="utf-8"
    )
    tune = build_section(TuneConfig, config, {"tune": {"trials": 2}})
    assert (tune.study, tune.trials) == ("lr", 2)
    assert build_section(TaggingConfig, config, {}).chunk_size == 50
    assert build_config(config, {"tune": {"trials": 2}}).training.epochs == 3.0
    bad = runner.invoke(app, ["tune", "--config", str(config), "--trials", "0"])
    assert bad.exit_code == 2 and "trials" in bad.output

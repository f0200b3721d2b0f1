from pathlib import Path

import pytest

from nerflow.config import RunConfig, read_table


def write(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "run.toml"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        (b'[training]\nlearning_rate = "0.001"\n', "training.learning_rate"),
        (b"[training]\nepochs = true\n", "training.epochs"),
        (b"[training]\nbatch_size = 32.0\n", "training.batch_size"),
        (b'[data]\nlabel_all_subwords = "yes"\n', "data.label_all_subwords"),
        (b"[tracking]\npromotion_margin = false\n", "tracking.promotion_margin"),
    ],
)
def test_numbers_and_switches_of_the_wrong_type_are_refused(
    tmp_path: Path, toml: bytes, field: str
) -> None:
    with pytest.raises(ValueError, match=rf"run\.toml: {field}: Input should be a valid"):
        read_table(RunConfig, write(tmp_path, toml))


def test_an_integer_is_still_a_float_and_paths_and_lists_are_toml_strings(tmp_path: Path) -> None:
    toml = b'work_dir = "w"\n[training]\nepochs = 2\n[data]\nbtc_train_sections = ["a"]\n'
    run = read_table(RunConfig, write(tmp_path, toml))
    assert run.training.epochs == 2.0 and run.work_dir == Path("w")
    assert run.data.btc_train_sections == ("a",)


def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"[training]\nepochs = 2\n# caf\xff\n")
    with pytest.raises(ValueError, match=r"run\.toml:3: not UTF-8 \(byte 0xff"):
        read_table(RunConfig, path)


def test_a_work_dir_that_is_a_file_is_refused_naming_it(tmp_path: Path) -> None:
    taken = tmp_path / "work"
    taken.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{taken} is a file, not a folder"):
        RunConfig(work_dir=taken)
    with pytest.raises(ValueError, match=f"{taken / 'sub'} cannot be made: {taken} is a file"):
        RunConfig(work_dir=taken / "sub")

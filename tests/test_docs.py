"""The documentation site builds strictly, and its generated reference covers the code."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest
import typer
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort
from pydantic import BaseModel

from nerflow.cli import app
from nerflow.config import _Config

ROOT = Path(__file__).resolve().parents[1]


def build_site(site: Path, docs: Path = ROOT / "docs") -> Path:
    """Build the site as `make docs` does (mkdocs.yml, strict), from `docs`, into `site`."""
    build(load_config(str(ROOT / "mkdocs.yml"), docs_dir=str(docs), site_dir=str(site)))
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("site"))


def config_models() -> list[type[BaseModel]]:
    """Every config model the CLI builds, found through the shared base class."""
    found: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = list(_Config.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo += model.__subclasses__()
    return found


def test_every_command_and_option_is_in_the_cli_reference(site: Path) -> None:
    page = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    commands = group.commands
    assert len(commands) >= 10
    for name, command in commands.items():
        assert f'id="nerflow-{name}"' in page, f"no section for `nerflow {name}`"
        for param in command.params:
            for option in (*param.opts, *param.secondary_opts):
                if option.startswith("--"):
                    assert option in page, f"nerflow {name} {option} is not documented"


def test_every_config_field_has_a_row_in_its_models_table(site: Path) -> None:
    page = (site / "reference" / "configuration" / "index.html").read_text(encoding="utf-8")
    tables = [
        re.findall(r"<tr>\s*<td><code>(\w+)</code></td>", table)
        for table in page.split("<table>")[1:]
    ]
    models = config_models()
    assert {"RunConfig", "DataConfig", "TaggingConfig", "TuneConfig"} <= {
        model.__name__ for model in models
    }
    for model in models:
        assert list(model.model_fields) in tables, f"{model.__name__} has no complete table"


def test_a_broken_internal_link_or_anchor_fails_the_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    with (docs / "index.md").open("a", encoding="utf-8") as index:
        index.write("\nSee [a page](how-to/no-such-page.md) and [a section](results.md#none).\n")
    with caplog.at_level(logging.WARNING), pytest.raises(Abort):
        build_site(tmp_path / "site", docs)
    assert "how-to/no-such-page.md" in caplog.text
    assert "results.md#none" in caplog.text

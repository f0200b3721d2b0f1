"""The package's shape: one import name, imports running one way, a Prefect-free library."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Repository folder -> the installed package it becomes (pyproject's package-dir).
MAPPED = {"tasks": "nerflow.tasks", "flows": "nerflow.flows", "deployments": "nerflow.deployments"}
#: Layers, lowest first: a module may import its own layer and those below it only.
LAYERS = ("library", "orchestration", "tasks", "flows", "deployments", "cli")


def modules() -> dict[str, Path]:
    """Every installed module name and its file."""
    found: dict[str, Path] = {}
    folders = {"nerflow": "nerflow", **MAPPED}
    for folder, package in folders.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


def layer(module: str) -> str:
    """Which layer a project module belongs to."""
    parts = module.split(".")
    second = parts[1] if len(parts) > 1 else ""
    if second == "cli":
        return "cli"
    if second in {"orchestration", "tasks", "flows", "deployments"}:
        return second
    return "library"


def imports(path: Path, module: str) -> set[str]:
    """Absolute names a file imports, at its top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative: resolve against the importing package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, node.module])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_pyproject_installs_every_package_under_one_name() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = config["tool"]["setuptools"]
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert set(setuptools["packages"]) == packages
    assert all(name == "nerflow" or name.startswith("nerflow.") for name in packages)
    assert setuptools["package-dir"] == {package: folder for folder, package in MAPPED.items()}


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_run_one_way(module: str) -> None:
    """library <- orchestration <- tasks <- flows <- deployments <- CLI (and the benchmark)."""
    own = LAYERS.index(layer(module))
    imported = imports(modules()[module], module)
    upward = sorted(
        name
        for name in imported
        if name.split(".")[0] == "nerflow" and LAYERS.index(layer(name)) > own
    )
    assert not upward, f"{module} ({layer(module)}) imports a higher layer: {upward}"
    if layer(module) == "library":
        prefect = sorted(name for name in imported if name.split(".")[0] == "prefect")
        assert not prefect, f"library module {module} imports Prefect: {prefect}"
    if module.startswith("nerflow.inference"):
        # The logged model ships this package alone: it may use nothing else of nerflow.
        outside = sorted(
            name
            for name in imported
            if name.startswith("nerflow") and not name.startswith("nerflow.inference")
        )
        assert not outside, f"{module} imports {outside}, which a logged model lacks"


def test_the_layer_rules_catch_an_upward_import(tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text("from nerflow.flows.train_ner import train_ner\n", encoding="utf-8")
    found = imports(path, "nerflow.tasks.bad")
    assert LAYERS.index(layer("nerflow.flows.train_ner")) > LAYERS.index(layer("nerflow.tasks.bad"))
    assert "nerflow.flows.train_ner" in found


def test_no_module_passes_300_lines_without_saying_why() -> None:
    long = []
    for name, path in modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > 300 and "Longer than 300 lines" not in "\n".join(lines[:15]):
            long.append(f"{name} ({len(lines)} lines)")
    assert not long


def test_the_locks_pin_every_dependency_pyproject_names() -> None:
    """`make install` installs requirements-dev.lock, the Docker image requirements.lock: a
    dependency missing from its lock is missing, and the two locks agree on every version."""
    import re

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = config["optional-dependencies"]
    wanted = [*config["dependencies"], *extras["dev"]]
    # dev pulls in other extras of this project (nerflow[postgres]): their packages count.
    for spec in extras["dev"]:
        if included := re.fullmatch(r"nerflow\[(.+)\]", spec):
            wanted += [dep for extra in included[1].split(",") for dep in extras[extra.strip()]]

    def name(spec: str) -> str:
        return re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0].lower()

    names = {name(spec) for spec in wanted} - {"nerflow"}
    runtime_names = {name(spec) for spec in config["dependencies"]}
    pins: dict[str, dict[str, str]] = {}
    for lock, needed in (("requirements-dev.lock", names), ("requirements.lock", runtime_names)):
        lines = (ROOT / lock).read_text(encoding="utf-8").lower().splitlines()
        pins[lock] = dict(line.split("==", 1) for line in lines if "==" in line)
        missing = sorted(needed - {"torch"} - set(pins[lock]))
        assert not missing, f"run `make lock`: {lock} lacks {missing}"
    assert pins["requirements.lock"].items() <= pins["requirements-dev.lock"].items()

"""The code a step's output follows: declared per step, hashed without comments or docstrings."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import threading
from dataclasses import dataclass
from pathlib import Path


# tests/test_step_code.py runs every step and fails if it ran project code outside both.
@dataclass(frozen=True)
class StepCode:
    """The project code a step's output follows, declared as a DVC stage declares deps: the
    key hashes exactly `deps` (modules, or packages with every module under them), not the
    code it only `observes` (progress reports, a live MLflow run)."""

    deps: tuple[str, ...]
    observes: tuple[str, ...] = ()

    def files(self) -> list[Path]:
        """The source files whose code is in the key."""
        return sorted({file for name in self.deps for file in module_files(name)})

    def version(self) -> str:
        """A fingerprint of the declared code: edits to comments and docstrings do not count."""
        digest = hashlib.sha256()
        for file in self.files():
            digest.update(source_fingerprint(file).encode())
        return digest.hexdigest()[:16]


def module_files(name: str) -> list[Path]:
    """A module's source file, or every Python file under a package (imported or not)."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"step code names {name!r}, which is no module")
    if spec.submodule_search_locations is None:
        return [Path(spec.origin).resolve()]
    return [
        file.resolve()
        for folder in spec.submodule_search_locations
        for file in Path(folder).rglob("*.py")
        if "__pycache__" not in file.parts
    ]


#: CPython 3.11's AST constructor keeps its recursion depth in shared state: two threads
#: parsing at once (two flows in one process) can fail with "AST constructor recursion depth
#: mismatch" (python/cpython#106905).
_PARSING = threading.Lock()


def source_fingerprint(path: Path) -> str:
    """SHA-256 of a Python file's syntax tree with every bare string statement removed."""
    with _PARSING:
        return _fingerprint(path)


def _fingerprint(path: Path) -> str:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [statement for statement in body if not _is_string_statement(statement)]
            node.body = kept or [ast.Pass()]  # type: ignore[attr-defined]
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


def _is_string_statement(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )

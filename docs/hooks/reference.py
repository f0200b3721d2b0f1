"""MkDocs hook: the reference pages generated from the code at build time.

Two directives, each alone on a line of a page:
- `::: cli nerflow.cli.app nerflow` becomes the reference of the Typer app run as `nerflow`:
  every command with its usage, arguments and options, from Typer's own Markdown generator
  (what `typer ... utils docs` prints), run in-process so that a broken import fails the build;
- `::: config nerflow.config.DataConfig` becomes a table of that pydantic model's fields
  (field, type, default, description); a field holding another model links to the heading
  whose id is that model's name (`## [data] {#DataConfig}`).
Both read the objects themselves, so the reference cannot drift from the code. A config model
that no page places fails the build.
"""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from mkdocs.exceptions import PluginError
from pydantic import BaseModel
from pydantic.fields import FieldInfo

#: The modules whose pydantic models are nerflow's configuration (run, tagging, tuning).
CONFIG_MODULES = ("nerflow.config", "nerflow.tagging.config", "nerflow.tuning.config")
DIRECTIVE = re.compile(r"^::: (cli|config) (\S+)(?: (\S+))?[ \t]*$", re.MULTILINE)
_BOUNDS = {
    annotated_types.Gt: ">",
    annotated_types.Ge: "≥",
    annotated_types.Lt: "<",
    annotated_types.Le: "≤",
}
_SCALARS = {str: "string", int: "integer", float: "float", bool: "boolean", Path: "path"}

_placed: set[str] = set()


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Replace each directive line of a page with the reference it names."""

    def expand(match: re.Match[str]) -> str:
        kind, target = match[1], match[2]
        try:
            if kind == "cli":
                return cli_reference(target, match[3] or "")
            _placed.add(target)
            return config_table(target)
        except (ImportError, AttributeError, TypeError, ValueError) as exc:
            raise PluginError(f"{page.file.src_uri}: ::: {kind} {target}: {exc}") from exc

    return DIRECTIVE.sub(expand, markdown)


def on_post_build(**_: Any) -> None:
    """Fail the build when a config model has no table on any page."""
    missing = sorted(set(config_models()) - _placed)
    _placed.clear()
    if missing:
        raise PluginError(f"config models without a `::: config` table: {', '.join(missing)}")


def cli_reference(dotted: str, name: str) -> str:
    """Markdown for every command of the Typer app at `module.attribute`, run as `name`:
    headings one level down (the page has its own title), help text safe from HTML."""
    import typer
    from typer.cli import get_docs_for_click

    command = typer.main.get_command(_load(dotted, typer.Typer))
    text = get_docs_for_click(obj=command, ctx=typer.Context(command), name=name)
    lines, fenced = [], False
    for line in text.strip().splitlines():
        fenced ^= line.startswith("```")
        if not fenced and not line.startswith("```"):
            line = "#" + line if line.startswith("#") else _escape_html(line)
        lines.append(line)
    return "\n".join(lines)


def config_models() -> dict[str, type[BaseModel]]:
    """Every public pydantic model defined in CONFIG_MODULES, by dotted name."""
    found = {}
    for module_name in CONFIG_MODULES:
        for name, value in vars(importlib.import_module(module_name)).items():
            is_model = isinstance(value, type) and issubclass(value, BaseModel)
            if is_model and value.__module__ == module_name and not name.startswith("_"):
                found[f"{module_name}.{name}"] = value
    return found


def config_table(dotted: str) -> str:
    """The model's docstring, then one Markdown table row per field."""
    model = _load(dotted, BaseModel)
    rows = [(model.__doc__ or "").strip(), "", "| field | type | default | description |"]
    rows.append("|---|---|---|---|")
    for name, field in model.model_fields.items():
        cells = (f"`{name}`", _type(field), _default(field), _text(field.description or ""))
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _load(dotted: str, kind: type) -> Any:
    module, _, name = dotted.rpartition(".")
    found = getattr(importlib.import_module(module), name)
    if not (isinstance(found, kind) or (isinstance(found, type) and issubclass(found, kind))):
        raise TypeError(f"not a {kind.__name__}")
    return found


def _escape_html(line: str) -> str:
    # Help texts say `<experiment>-tagging` or `{"text", "spans"}`: outside code spans a `<`
    # would open an HTML tag and swallow the text.
    parts = line.split("`")
    parts[::2] = [part.replace("<", "&lt;") for part in parts[::2]]
    return "`".join(parts)


def _type(field: FieldInfo) -> str:
    bounds = [
        f"{sign} {getattr(item, type(item).__name__.lower())}"
        for item in field.metadata
        for kind, sign in _BOUNDS.items()
        if isinstance(item, kind)
    ]
    return ", ".join([_type_name(field.annotation), *bounds])


def _type_name(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f'`"{value}"`' for value in args)
    if origin in (Union, types.UnionType):
        named = [_type_name(arg) for arg in args if arg is not type(None)]
        return " or ".join(named) + (" (optional)" if type(None) in args else "")
    if origin is tuple:
        return f"array of {_type_name(args[0])}"
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[`{annotation.__name__}`](#{annotation.__name__})"  # its table's heading id
    return _SCALARS.get(annotation, str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "its defaults"
    if isinstance(value, dict):  # a table of tables, one entry per line
        return "<br>".join(f"`{key} = {_toml(item)}`" for key, item in value.items())
    return f"`{_toml(value)}`"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str | Path):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, BaseModel):
        fields = value.model_dump(exclude_defaults=True)
        return "{" + ", ".join(f"{key} = {_toml(item)}" for key, item in fields.items()) + "}"
    return str(value)


def _text(description: str) -> str:
    return " ".join(description.split()).replace("|", "\\|")

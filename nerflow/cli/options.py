"""Command-line options taken from the config models: names, types, help and defaults once.

A command declares which config fields it exposes (and under which option name); the option's
type, help text and shown default come from the field's model.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import re
import signal
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar, Union, get_args, get_origin

import typer
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from nerflow.config import OTHER_TABLES, RunConfig, describe_errors, read_table
from nerflow.orchestration.process import (
    apply_prefect_defaults,
    is_out_of_memory,
    note_signals,
    remember_flow_run,
    start_temporary_server,
    stop_out_of_memory,
    tracebacks_to_run_logs_only,
)
from nerflow.tagging.config import TaggingConfig
from nerflow.tuning.config import TuneConfig

#: `{"data": {"max_length": 64}}`: only the options a user gave, by config section.
Overrides = dict[str, dict[str, Any]]
M = TypeVar("M", bound=BaseModel)

#: The models built beside the run config, each from its own table and options.
OTHER_MODELS: dict[str, type[BaseModel]] = {"tune": TuneConfig, "tagging": TaggingConfig}
assert set(OTHER_MODELS) == set(OTHER_TABLES)


@dataclass(frozen=True)
class ConfigOption:
    """A config field exposed as an option; `flag` overrides the `--name` spelling."""

    section: str | None  # a RunConfig section, a table of OTHER_MODELS, None: RunConfig's own
    field: str
    flag: str | None = None


def fields(section: str | None, *names: str, **renamed: str) -> dict[str, ConfigOption]:
    """Options for a section's fields, named as the field or `option="field"`."""
    return {name: ConfigOption(section, renamed.get(name, name)) for name in [*names, *renamed]}


TRACKING_URI = ConfigOption("tracking", "tracking_uri")
REGISTERED_MODEL = ConfigOption("tracking", "registered_model")


def field_info(option: ConfigOption) -> FieldInfo:
    """The pydantic field behind an option."""
    model: type[BaseModel] = RunConfig
    if option.section in OTHER_MODELS:
        model = OTHER_MODELS[option.section]
    elif option.section is not None:
        annotation = RunConfig.model_fields[option.section].annotation
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation
    return model.model_fields[option.field]


def help_text(option: ConfigOption) -> str:
    """The field's description, with its default in brackets when it has one."""
    info = field_info(option)
    description = re.sub(r"\s+", " ", info.description or "").strip()
    default = info.default
    shown = f" [{default}]" if default is not None and not isinstance(default, bool) else ""
    return description + shown


def _option_type(info: FieldInfo) -> Any:
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return str  # the config model checks the choice and names the field
    return annotation


def option_parameter(name: str, option: ConfigOption) -> inspect.Parameter:
    """A keyword parameter typer turns into `--name`, None unless the user gives it."""
    info = field_info(option)
    kind = _option_type(info)
    flag = option.flag or "--" + name.replace("_", "-")
    annotation = Annotated[kind | None, typer.Option(flag, help=help_text(option))]  # type: ignore[valid-type]
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation
    )


def with_config_options(
    options: dict[str, ConfigOption],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command one option per config field; it receives them as `overrides`."""

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        signature = inspect.signature(fn, eval_str=True)
        fixed = [p for name, p in signature.parameters.items() if name != "overrides"]
        extra = [option_parameter(name, option) for name, option in options.items()]

        def command(**kwargs: Any) -> None:
            given = {name: kwargs.pop(name) for name in options}
            fn(**kwargs, overrides=collect_overrides(options, given))

        parameters = [*fixed, *extra]
        command.__name__, command.__doc__ = fn.__name__, fn.__doc__
        command.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in parameters}
        return command

    return decorate


def collect_overrides(options: dict[str, ConfigOption], given: dict[str, Any]) -> Overrides:
    """The options the user gave, by config section (top-level fields under "")."""
    out: Overrides = {}
    for name, value in given.items():
        if value is not None:
            option = options[name]
            out.setdefault(option.section or "", {})[option.field] = value
    return out


def build_config(config_file: Path | None, overrides: Overrides) -> RunConfig:
    """The run's config: defaults, then the TOML file, then command-line options."""
    raw: dict[str, Any] = {}
    if config_file is not None:
        raw = read_table(RunConfig, config_file).model_dump(exclude_unset=True)
    for section, values in overrides.items():
        if not section:
            raw.update(values)
        elif section not in OTHER_MODELS:
            raw.setdefault(section, {}).update(values)
    return RunConfig.model_validate(raw)


def build_section(model: type[M], config_file: Path | None, overrides: Overrides) -> M:
    """A model of OTHER_MODELS: defaults, then its table of the TOML file, then options."""
    name = next(key for key, value in OTHER_MODELS.items() if value is model)
    raw: dict[str, Any] = {}
    if config_file is not None:
        raw = read_table(model, config_file, name).model_dump(exclude_unset=True)
    return model.model_validate({**raw, **overrides.get(name, {})})


def config_or_exit(config_file: Path | None, overrides: Overrides) -> RunConfig:
    """`build_config`, or exit 2 naming the bad field before any work starts."""
    return _or_exit(lambda: build_config(config_file, overrides))


def section_or_exit(model: type[M], config_file: Path | None, overrides: Overrides) -> M:
    """`build_section`, or exit 2 naming the bad field before any work starts."""
    return _or_exit(lambda: build_section(model, config_file, overrides))


def _or_exit(build: Callable[[], M]) -> M:
    try:
        return build()
    except (ValidationError, ValueError) as exc:
        shown = describe_errors(exc) if isinstance(exc, ValidationError) else exc
        typer.echo(f"invalid configuration: {shown}", err=True)
        raise typer.Exit(2) from exc


def fail(exc: Exception | str, code: int = 1) -> NoReturn:
    """Print one error line and exit non-zero."""
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code)


def run_flow(
    name: str, render: Callable[[dict[str, Any]], str], json_out: Path | None, **parameters: Any
) -> None:
    """Run flow `nerflow.flows.<name>` here and print its result through `render` (and write
    it as JSON to `json_out`), or its cause as one error line and exit 1."""
    apply_prefect_defaults()  # before Prefect is imported: it reads its settings then
    # nerflow's progress messages at INFO, not httpx chatter.
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nerflow").setLevel(logging.INFO)
    exit_on_sigterm()
    note_signals()
    try:
        start_temporary_server()
    except RuntimeError as exc:  # it exited, or did not answer in time
        fail(f"Prefect's temporary server did not start: {exc}")
    flow = getattr(importlib.import_module(f"nerflow.flows.{name}"), name)
    with tracebacks_to_run_logs_only():
        state = flow.with_options(on_running=[remember_flow_run])(**parameters, return_state=True)
    if not state.is_completed():
        cause = state.result(raise_on_failure=False)
        if isinstance(cause, BaseException) and is_out_of_memory(cause):
            stop_out_of_memory(cause)
        fail(cause if isinstance(cause, Exception) else str(state.message or state.name))
    result: dict[str, Any] = state.result()
    typer.echo(render(result))
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")


def exit_on_sigterm() -> None:
    """Make SIGTERM (a scheduler's stop, `kill`) unwind like Ctrl-C, so that what the command
    started (Prefect's temporary server, benchmark processes) is stopped with it."""
    signal.signal(signal.SIGTERM, _raise_exit)


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def existing_store(tracking_uri: str | None) -> str:
    """The tracking store's URI once it is known to exist and answer (else one error line)."""
    from nerflow.tracking import store

    try:
        return store.existing_store(tracking_uri)
    except store.TrackingStoreError as exc:
        fail(exc)


def actor() -> str:
    """Who made a registry change from the command line."""
    return f"nerflow CLI ({os.environ.get('USER', 'unknown user')})"


ConfigFile = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML file with [data] [model] [training] [tracking] (and [tune], [tagging])",
        exists=True,
        dir_okay=False,
    ),
]
JsonOut = Annotated[Path | None, typer.Option("--json", help="also write the result as JSON here")]
TrackingUri = Annotated[str | None, typer.Option(help=help_text(TRACKING_URI))]
RegisteredModel = Annotated[str, typer.Option(help=help_text(REGISTERED_MODEL))]

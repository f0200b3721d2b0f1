"""The retraining deployment in code, served by `nerflow serve`: `train-ner` on a schedule, one
run at a time. Its schedule, limit, tags and description are prefect.yaml's `definitions`, the
one home that `prefect deploy` reads too. The flow never imports this module."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nerflow.config import RunConfig

if TYPE_CHECKING:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule

#: The checkout's deployment file (the package is installed editable from it).
PREFECT_YAML = Path(__file__).resolve().parents[1] / "prefect.yaml"
DEPLOYMENT_NAME = "nightly-retrain"
Collision = Literal["enqueue", "cancel-new"]


@cache
def definitions() -> dict[str, Any]:
    """prefect.yaml's `definitions`: the nightly schedule, the one-run limit, tags, description."""
    import yaml

    try:
        return dict(yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))["definitions"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise RuntimeError(f"{PREFECT_YAML}: no deployment definitions ({exc!r})") from exc


def retraining_schedule(
    cron: str | None = None, timezone: str | None = None, interval: float | None = None
) -> Schedule:
    """A cron schedule (prefect.yaml's nightly one by default), or an interval in seconds, in
    an explicit IANA timezone."""
    from prefect.schedules import Cron, Interval

    nightly = definitions()["schedules"]["nightly"]
    timezone = timezone or nightly["timezone"]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {timezone!r} (use an IANA name such as UTC)") from exc
    if interval is not None:
        if interval <= 0:
            raise ValueError(f"interval must be positive seconds, got {interval}")
        return Interval(timedelta(seconds=interval), timezone=timezone)
    return Cron(cron or nightly["cron"], timezone=timezone)  # Prefect validates the cron


def concurrency(collision: Collision | None = None) -> ConcurrencyLimitConfig:
    """prefect.yaml's limit of one retraining at a time; `collision` overrides what happens to
    a run due while one runs (enqueue: it waits; cancel-new: it is cancelled)."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    if collision not in (None, "enqueue", "cancel-new"):
        raise ValueError(f"collision strategy {collision!r}: use enqueue or cancel-new")
    limit = definitions()["concurrency"]
    strategy = collision.upper().replace("-", "_") if collision else limit["collision_strategy"]
    return ConcurrencyLimitConfig(
        limit=limit["limit"], collision_strategy=ConcurrencyLimitStrategy(strategy)
    )


def retraining_parameters(config: RunConfig) -> dict[str, Any]:
    """The flow's parameters as JSON, with paths and the tracking store pinned absolutely: a
    worker's run may start in another working directory."""
    from nerflow.tracking.store import resolve_tracking_uri

    data = config.data
    folders = {
        name: folder.resolve()
        for name in ("local_dir", "incoming_dir")
        if (folder := getattr(data, name)) is not None
    }
    extra = tuple(
        source.model_copy(update={"path": source.path.resolve()}) if source.path else source
        for source in data.extra
    )
    data = data.model_copy(update={**folders, "extra": extra})
    tracking_uri, _ = resolve_tracking_uri(config.tracking.tracking_uri)
    pinned = config.model_copy(
        update={
            "data": data,
            "tracking": config.tracking.model_copy(update={"tracking_uri": tracking_uri}),
            "work_dir": config.work_dir.resolve(),
        }
    )
    return pinned.model_dump(mode="json")


def retraining_deployment(
    config: RunConfig,
    schedule: Schedule | None = None,
    name: str = DEPLOYMENT_NAME,
    collision: Collision | None = None,
) -> RunnerDeployment:
    """The `train-ner` deployment: schedule, limit of one run, tags, description, parameters."""
    from nerflow.flows.train_ner import train_ner
    from prefect.types.entrypoint import EntrypointType

    facts = definitions()
    deployment = train_ner.to_deployment(
        name=name,
        schedule=schedule or retraining_schedule(),
        concurrency_limit=concurrency(collision),
        parameters=retraining_parameters(config),
        description=facts["description"],
        tags=list(facts["tags"]),
        # The installed package's module path: found from any working directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    # to_deployment is dual sync/async; called outside an event loop it returns the object.
    return cast("RunnerDeployment", deployment)


def require_server() -> str:
    """The configured Prefect API URL; without one Prefect's temporary server has no
    scheduler, so the schedule would never fire."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise RuntimeError(
            "no Prefect server configured: start one (make server) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return str(url)


def serve_retraining(deployment: RunnerDeployment) -> None:
    """Register `deployment` and execute its runs here, one at a time, until Ctrl-C; on
    shutdown the schedule is paused, so no runs pile up while nothing serves them."""
    from prefect import serve

    require_server()
    serve(deployment, limit=1)

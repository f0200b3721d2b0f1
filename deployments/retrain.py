"""The retraining deployment: `train-ner` on a schedule, one run at a time, promoted by the gate.

Defined here in code (served by `nerflow serve`) and in `prefect.yaml` (worked by a work
pool); both give the same schedule, concurrency limit, tags and parameters. The flow
never imports this module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nerflow.config import RunConfig

if TYPE_CHECKING:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.deployments.runner import RunnerDeployment
    from prefect.schedules import Schedule

DEPLOYMENT_NAME = "nightly-retrain"
#: 02:00 every night: after the day's corpus updates, before anyone looks at the registry.
DEFAULT_CRON = "0 2 * * *"
#: Explicit, so "nightly" does not silently follow whatever zone the server runs in.
DEFAULT_TIMEZONE = "UTC"
TAGS = ("nerflow", "retraining", "btc-ner")
DESCRIPTION = (
    "Scheduled retraining of the BTC NER model. Unchanged corpus, config and code: every "
    "step is a cache hit and nothing new is registered. Otherwise the model is retrained, "
    "logged to MLflow and judged by the promotion gate (champion / challenger)."
)

Collision = Literal["enqueue", "cancel-new"]


def retraining_schedule(
    cron: str = DEFAULT_CRON, timezone: str = DEFAULT_TIMEZONE, interval: float | None = None
) -> Schedule:
    """A cron schedule, or an interval in seconds when given, in an explicit IANA timezone."""
    from prefect.schedules import Cron, Interval

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {timezone!r} (use an IANA name such as UTC)") from exc
    if interval is not None:
        if interval <= 0:
            raise ValueError(f"interval must be positive seconds, got {interval}")
        return Interval(timedelta(seconds=interval), timezone=timezone)
    return Cron(cron, timezone=timezone)  # Prefect validates the cron expression


def concurrency(collision: Collision = "enqueue") -> ConcurrencyLimitConfig:
    """At most one retraining at a time; what happens to a run that collides with it.

    `enqueue` (default): the new run waits (state AwaitingConcurrencySlot) and starts
    when the running one ends. A queued run after an unchanged one costs only cache
    lookups, and a run triggered by a corpus change is never dropped.
    `cancel-new`: the new run is cancelled; the next firing picks up any change.
    """
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

    strategy = {
        "enqueue": ConcurrencyLimitStrategy.ENQUEUE,
        "cancel-new": ConcurrencyLimitStrategy.CANCEL_NEW,
    }.get(collision)
    if strategy is None:
        raise ValueError(f"collision strategy {collision!r}: use enqueue or cancel-new")
    return ConcurrencyLimitConfig(limit=1, collision_strategy=strategy)


def retraining_parameters(config: RunConfig) -> dict[str, Any]:
    """The flow's parameters as JSON, with paths and the tracking store pinned absolutely.

    A flow run may start in another working directory (a worker's temporary folder), so
    relative paths would land caches and the MLflow store somewhere else on every run.
    """
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
    collision: Collision = "enqueue",
) -> RunnerDeployment:
    """The `train-ner` deployment: schedule, limit of one run, tags, description, parameters."""
    from nerflow.flows.train_ner import train_ner
    from prefect.types.entrypoint import EntrypointType

    deployment = train_ner.to_deployment(
        name=name,
        schedule=schedule or retraining_schedule(),
        concurrency_limit=concurrency(collision),
        parameters=retraining_parameters(config),
        description=DESCRIPTION,
        tags=list(TAGS),
        # The installed package's module path: found from any working directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    # to_deployment is dual sync/async; called outside an event loop it returns the object.
    return cast("RunnerDeployment", deployment)


def require_server() -> str:
    """The configured Prefect API URL; a clear error when there is none.

    Without one Prefect starts a temporary in-process server that has no scheduler,
    so the schedule would never fire.
    """
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise RuntimeError(
            "no Prefect server configured: start one (make server) and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    return str(url)


def serve_retraining(
    config: RunConfig,
    schedule: Schedule | None = None,
    name: str = DEPLOYMENT_NAME,
    collision: Collision = "enqueue",
) -> None:
    """Register the deployment and execute its runs here until interrupted (Ctrl-C).

    The server's scheduler creates the runs; this process polls for them. On shutdown
    the schedule is paused, so no runs pile up while nothing serves them.
    """
    from prefect import serve

    require_server()
    deployment = retraining_deployment(config, schedule, name, collision)
    # limit=1 here as well: the served process never starts a second training itself.
    serve(deployment, limit=1)

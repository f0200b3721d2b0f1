"""MLflow pyfunc loader: `mlflow.pyfunc.load_model(uri).predict(texts)` returns entity spans."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from nerflow.inference.predict import EntityPredictor


class SpansModel:
    """Texts in; for each text a list of `{type, text, start, end, score}` spans out."""

    def __init__(self, predictor: EntityPredictor) -> None:
        self.predictor = predictor

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[list[dict]]:
        """Predict spans for a list of strings, a string, or a one-column DataFrame/Series."""
        texts = _as_texts(model_input)
        return [[span.as_dict() for span in spans] for spans in self.predictor.predict(texts)]


def _as_texts(model_input: Any) -> list[str]:
    if isinstance(model_input, str):
        return [model_input]
    if hasattr(model_input, "columns"):  # a DataFrame, as MLflow's schema enforcement makes
        model_input = model_input[model_input.columns[0]]
    texts = list(model_input)
    bad = [f"item {i} is {_kind(t)}" for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        from mlflow.exceptions import MlflowException

        # An MlflowException: the scoring server answers 400 with this message, not 500.
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise MlflowException.invalid_parameter_value(f"expected texts: {', '.join(bad[:3])}{more}")
    return texts


def _kind(value: Any) -> str:
    # MLflow's server hands a JSON null over as None, or as NaN once in a DataFrame.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def signature() -> Any:
    """Texts in; per text, a list of spans (type, text, start, end, score) out."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, Array, ColSpec, Object, Property, Schema

    span = Object(
        [
            Property("type", "string"),
            Property("text", "string"),
            Property("start", "long"),
            Property("end", "long"),
            Property("score", "double"),
        ]
    )
    # Inputs are Any, not string: MLflow's server turns a string column's 1, null and {} into
    # "1", "None" and "{}" before `predict` sees them; `_as_texts` refuses them instead.
    return ModelSignature(
        inputs=Schema([ColSpec(AnyType())]), outputs=Schema([ColSpec(Array(span))])
    )


def _load_pyfunc(path: str, model_config: dict[str, Any] | None = None) -> SpansModel:
    """MLflow's loader hook: `path` is the model's transformers folder (`data/model/`), and
    `model_config` (precision, batch_size, max_length, aggregation) tunes the predictor."""
    config = model_config or {}
    predictor = EntityPredictor(
        Path(path),
        max_length=int(config.get("max_length", 128)),
        batch_size=int(config.get("batch_size", 32)),
        aggregation=config.get("aggregation", "first"),
        precision=str(config.get("precision", "auto")),
    )
    return SpansModel(predictor)

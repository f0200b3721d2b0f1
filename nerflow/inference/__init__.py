"""Inference: raw text to entity spans, and the MLflow pyfunc loader (imports no other nerflow:
every logged model carries this package alone as its code)."""

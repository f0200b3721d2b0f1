"""Inference: raw text to entity spans, and the MLflow pyfunc loader.

Every logged model carries this package (and nothing else of nerflow) as its code, so it
imports nothing from the rest of the project.
"""

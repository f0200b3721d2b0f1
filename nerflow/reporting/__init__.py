"""What a run shows a person: the summary and its score tables, figures, the model card."""

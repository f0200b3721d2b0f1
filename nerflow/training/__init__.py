"""Fine-tuning with the transformers Trainer: batching, checkpoints, freezing, ranks."""

"""The `entity_f1` evaluate metric module (loaded by path: `evaluate.load(<this folder>)`)."""

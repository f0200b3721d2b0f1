"""Entity-level scores (an `evaluate` metric module) and what is derived from them."""

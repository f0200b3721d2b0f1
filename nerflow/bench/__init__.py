"""`nerflow bench`: the seed notebook's pipeline against nerflow's, and the GPU mode."""

"""The benchmark (`make bench`): the seed notebook's pipeline against nerflow's, and a GPU mode."""

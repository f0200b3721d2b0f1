"""`python -m nerflow.cli`: the same as the `nerflow` command."""

from nerflow.cli import main

main()

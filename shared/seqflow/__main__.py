"""`python -m seqflow ...` is the `seqflow` command."""

from seqflow.cli import main

main()

"""`python -m rag.cli ...`, as the test and benchmark server harness runs it."""

from rag.cli import main

main()

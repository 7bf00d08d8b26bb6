"""`python -m scopix` runs the command line."""

from scopix.cli import main

main()

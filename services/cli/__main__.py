"""`python -m services.cli` = the `fluxlab` command."""

from services.cli import main

main()

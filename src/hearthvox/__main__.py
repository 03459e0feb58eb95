"""``python -m hearthvox`` is the ``hearthvox`` command."""

from hearthvox.cli import main

main()

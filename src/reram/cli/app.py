"""The ``reram`` command's typer application (its commands register in :mod:`reram.cli.commands`
and :mod:`reram.cli.tools`).
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Simulate ReRAM compute-in-memory chips running PyTorch networks: accuracy and cost in one run. "
    'Config files are TOML on base = "neurram" unless they name another base.',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

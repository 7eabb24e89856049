"""The ``reram`` command: ``run``, ``train``, ``cost``, ``irdrop``, ``bench``, ``presets``, ``fit``, ..."""

from reram.cli import commands, exploring, fitting, sweeping, tools  # noqa: F401  (the commands register on the app)
from reram.cli.app import app

__all__ = ["app"]

"""A run's manifest: what ran into a folder, with which config, and whether it finished.

``manifest.json`` in the output folder holds the command, the config's hash, the package
version, the status ("running", "finished" or "failed"), the start and finish times (UTC) and,
once finished, the files the run wrote. A rerun with the same config resumes (and says from
what); a rerun with another config into a folder that holds results moves the older files into
``previous/<time>/`` first, so a folder never mixes the files of two runs (checkpoints, ``*.pt``,
stay: each is keyed by the settings that made it). A run that stops
half-way leaves its manifest at "running": its files are the unfinished ones.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reram.report.writers import write_json

log = logging.getLogger(__name__)

NAME = "manifest.json"


def config_hash(config: Any) -> str:
    """A short hash of a JSON-able description of the run (its config and job)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class RunManifest:
    """The manifest of one run into ``out``.

    Args:
        out: the output folder.
        command: what runs (e.g. "reram run").
        config: a JSON-able description of everything the results depend on.

    """

    def __init__(self, out: Path, command: str, config: Any):
        from reram import __version__

        self.out, self.path = Path(out), Path(out) / NAME
        self.record: dict[str, Any] = {
            "command": command, "config_hash": config_hash(config), "version": __version__,
            "status": "running", "started": _now(), "finished": None, "files": [],
        }  # fmt: skip
        self.resumed_from: dict[str, Any] | None = None
        self.moved_to: Path | None = None

    def start(self) -> RunManifest:
        """Look at what the folder holds, move or resume, and mark this run as running."""
        self.out.mkdir(parents=True, exist_ok=True)
        old = self._read()
        if old is not None and old.get("config_hash") == self.record["config_hash"]:
            self.resumed_from = old
            log.warning("%s: resuming the %s run of %s (started %s, %s)", self.out, old.get("status"),
                        old.get("command"), old.get("started"), "same config")  # fmt: skip
        elif old is not None or any(p.name != "previous" and p.suffix != ".pt" for p in self.out.iterdir()):
            self._move_previous(old)
        write_json(self.path, self.record)
        return self

    def finish(self, files: list[Path] | None = None) -> None:
        """Mark the run finished and list its files."""
        listed = files if files is not None else sorted(p for p in self.out.iterdir() if p.is_file())
        self.record.update(status="finished", finished=_now(),
                           files=sorted({p.name for p in listed if p.name != NAME}))  # fmt: skip
        write_json(self.path, self.record)

    def fail(self, error: BaseException) -> None:
        """Mark the run failed, with its error."""
        self.record.update(status="failed", finished=_now(), error=f"{type(error).__name__}: {error}")
        write_json(self.path, self.record)

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _move_previous(self, old: dict[str, Any] | None) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        dest = self.out / "previous" / stamp
        items = [
            p for p in self.out.iterdir() if p.name != "previous" and p.suffix != ".pt"
        ]  # checkpoints: keyed caches
        if not items:
            return
        dest.mkdir(parents=True, exist_ok=True)
        for p in items:
            shutil.move(str(p), dest / p.name)
        self.moved_to = dest
        what = f"a {old.get('status')} run of another config" if old else "files of an unknown run"
        log.warning("%s held %s: moved to %s", self.out, what, dest)


@contextmanager
def manifested(out: Path, command: str, config: Any) -> Iterator[RunManifest]:
    """Run a block under a manifest: started (moving or resuming what the folder holds), then
    finished, or failed with the error (and the error raised again).
    """
    manifest = RunManifest(out, command, config).start()
    try:
        yield manifest
    except BaseException as exc:
        manifest.fail(exc)
        raise
    manifest.finish()

"""A character-level text corpus for language models, with no download at run time.

The default corpus is the King James Bible (1611, public domain), which Debian ships compressed
in ``bible-kjv-text`` and reads out with the ``bible`` program of ``bible-kjv``
(``apt-get install bible-kjv``): 31,102 verses, 4.3 M characters once the verse references are
stripped. It is read out once and cached (``$RERAM_CACHE`` or ``~/.cache/reram``, written
atomically). Any UTF-8 text file serves as well (``path``). The vocabulary is the corpus's own
characters; the last ``test_fraction`` of the text is held out for perplexity.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

from reram.data.datasets import DatasetError, DatasetMissing

KJV_RANGE = "Genesis 1:1-Revelation 22:21"
_REF = re.compile(r"^\S+?\d+:\d+ ", re.MULTILINE)  # "Ge1:1 " at the start of every verse


@dataclass
class TextCorpus:
    """Token ids of a character-level corpus.

    Attributes:
        name: where it came from.
        train, test: int64 ids (the text's first and last parts).
        vocab: the characters, in id order.

    """

    name: str
    train: torch.Tensor
    test: torch.Tensor
    vocab: str

    @property
    def vocab_size(self) -> int:
        """Distinct characters."""
        return len(self.vocab)

    def decode(self, ids: torch.Tensor) -> str:
        """The text of ``ids``."""
        return "".join(self.vocab[i] for i in ids.tolist())

    def batches(self, split: str, length: int, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """One random batch of (inputs, next-character targets), each (batch, length)."""
        ids = self.train if split == "train" else self.test
        start = torch.randint(0, len(ids) - length - 1, (batch,), generator=generator)
        rows = start[:, None] + torch.arange(length + 1)
        chunk = ids[rows]
        return chunk[:, :-1], chunk[:, 1:]


def _cache_dir() -> Path:
    return Path(os.environ.get("RERAM_CACHE", Path.home() / ".cache" / "reram"))


def kjv_text() -> str:
    """The King James Bible as plain text (one verse per line, references stripped).

    Raises:
        DatasetMissing: without the ``bible`` program (Debian's ``bible-kjv``).

    """
    cached = _cache_dir() / "kjv.txt"
    if cached.exists():
        return cached.read_text(encoding="utf-8")
    exe = shutil.which("bible")
    if exe is None:
        raise DatasetMissing("the King James Bible is read with the `bible` program: install it with `sudo "
                             "apt-get install bible-kjv` (Debian/Ubuntu), or give a text file")  # fmt: skip
    out = subprocess.run([exe, "-f", KJV_RANGE], capture_output=True, text=True, timeout=300, check=False)
    if out.returncode != 0 or len(out.stdout) < 1_000_000:
        raise DatasetError(f"`bible -f {KJV_RANGE!r}` failed (exit {out.returncode}): {out.stderr.strip()[:200]}")
    text = _REF.sub("", out.stdout)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, cached)
    return text


def load_text(path: str | Path | None = None, test_fraction: float = 0.05, limit: int = 0) -> TextCorpus:
    """A character-level corpus: the UTF-8 file ``path``, or the King James Bible.

    Args:
        path: a text file; None: the King James Bible (see the module docstring).
        test_fraction: the share of the text (its end) held out.
        limit: use only the first ``limit`` characters (0 = all).

    Raises:
        DatasetMissing: the file or the ``bible`` program is not there.
        DatasetError: the text is too short to split.

    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction = {test_fraction!r} is invalid: allowed is 0 < test_fraction < 1")
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise DatasetMissing(f"text file {str(p)!r} not found")
        text, name = p.read_text(encoding="utf-8"), str(p)
    else:
        text, name = kjv_text(), "kjv"
    if limit:
        text = text[:limit]
    if len(text) < 1000:
        raise DatasetError(f"{name}: {len(text)} characters: want at least 1000 to train and test on")
    vocab = "".join(sorted(set(text)))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    cut = int(len(ids) * (1 - test_fraction))
    return TextCorpus(name, ids[:cut], ids[cut:], vocab)

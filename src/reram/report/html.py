"""A self-contained HTML report: summary tables and the run's figures inlined."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from reram.report.writers import write_atomic


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(f'{v:.4g}' if isinstance(v, float) else str(v))}</td>" for v in r.values())
        + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_html_report(
    path: Path,
    title: str,
    sections: list[tuple[Any, ...]],
    images: list[Path],
    intro: list[str] | None = None,
) -> Path:
    """Write ``report.html``: an introduction (paragraphs), sections (heading, rows[, note]) as
    tables that scroll instead of overflowing, and PNG figures embedded as data URIs.
    """
    parts = [f"<h1>{html.escape(title)}</h1>"]
    parts += [f"<p>{html.escape(t)}</p>" for t in intro or []]
    for heading, rows, *note in sections:
        text = f"<p class='note'>{html.escape(note[0])}</p>" if note and note[0] else ""
        parts.append(f"<h2>{html.escape(heading)}</h2>{text}<div class='scroll'>{_table(rows)}</div>")
    for img in images:
        data = base64.b64encode(Path(img).read_bytes()).decode()
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}"><figcaption>{html.escape(img.name)}</figcaption></figure>'
        )
    style = (
        "body{font-family:sans-serif;max-width:960px;margin:2em auto;line-height:1.4}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}.scroll{overflow-x:auto}"
        ".note{color:#444}img{max-width:100%}"
    )
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{style}</style>"
    doc = f"<!doctype html><html><head>{head}</head><body>{''.join(parts)}</body></html>"
    return write_atomic(path, doc)

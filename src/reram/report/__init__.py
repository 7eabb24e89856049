"""Results: atomic JSON/CSV writers, matplotlib figures, an HTML report."""

from reram.report.html import write_html_report
from reram.report.writers import write_csv, write_json

__all__ = ["write_csv", "write_html_report", "write_json"]

"""One report, two renderings: Markdown with image paths, and one self-contained HTML page, every text escaped."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tune.report.html import Bullets, Details, Gallery, Image, Paragraph, Section, Table, render_html, render_markdown

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _sections() -> list[Section]:
    return [
        Section("Results <all>", [
            Paragraph("AUC & more"),
            Bullets(["one", "two"]),
            Table(["class", "AUC"], [["0", "0.9"], ["mean", "0.9"]], emphasis={1}),
            Gallery([Image("roc.png", "ROC of class 0"), Image("missing.png", "gone")]),
        ]),
        Section("Log", [Details("config", "a | b")], level=3),
    ]  # fmt: skip


def test_markdown_references_images_and_keeps_the_heading_levels() -> None:
    text = render_markdown("Report", _sections())
    assert text.startswith("# Report\n\n## Results <all>\n\nAUC & more\n\n")
    assert "### Log" in text and "![ROC of class 0](roc.png)" in text
    assert "| class | AUC |" in text and "a | b" in text


def test_html_references_images_escapes_text_and_marks_missing_figures(tmp_path: Path) -> None:
    (tmp_path / "roc.png").write_bytes(PNG)
    page = render_html("Report", _sections(), tmp_path)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</body></html>")
    assert "<h2>Results &lt;all&gt;</h2>" in page and "<p>AUC &amp; more</p>" in page and "<h3>Log</h3>" in page
    assert 'src="roc.png"' in page and 'loading="lazy"' in page  # a file beside the page, never inlined
    assert "base64" not in page and "<p><em>missing figure missing.png</em></p>" in page
    assert '<tr class="emph"><td>mean</td>' in page and "<li>two</li>" in page
    assert "http" not in page.split("<body>")[1]


def test_an_unknown_block_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unknown report block str"):
        render_html("r", [Section("s", ["text"])], tmp_path)  # type: ignore[list-item]

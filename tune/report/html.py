"""Rendering a report document to Markdown and to one self-contained HTML file.

A report is a title plus a list of :class:`Section` objects holding plain blocks (paragraphs,
links, bullet lists, tables, images, image galleries, collapsible preformatted text). The same blocks
render to ``report.md`` (images referenced by relative path) and ``report.html`` (images embedded
as base64 data URIs, CSS inline, no external resource: the file can be mailed or archived alone).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Paragraph:
    text: str


@dataclass
class Link:
    text: str
    href: str  # relative to the report folder
    lead: str = ""  # text before the link, in the same line


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    emphasis: set[int] = field(default_factory=set)  # row indices shown in bold (overall/total rows)


@dataclass
class Image:
    path: str  # relative to the report folder
    caption: str


@dataclass
class Gallery:
    images: list[Image]


@dataclass
class Details:
    summary: str
    text: str


Block = Paragraph | Link | Bullets | Table | Image | Gallery | Details


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    level: int = 2


# ---------------------------------------------------------------- Markdown


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Link):
        return f"{block.lead} [{block.text}]({block.href})".strip()
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Table):
        lines = ["| " + " | ".join(_md_cell(h) for h in block.headers) + " |", "|" + "---|" * len(block.headers)]
        for index, row in enumerate(block.rows):
            cells = [_md_cell(c) for c in row]
            if index in block.emphasis:
                cells = [f"**{c}**" if c else c for c in cells]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)
    if isinstance(block, Image):
        return f"![{_md_cell(block.caption)}]({block.path})\n\n*{block.caption}*"
    if isinstance(block, Gallery):
        return "\n\n".join(_md_block(image) for image in block.images)
    if isinstance(block, Details):
        return f"<details><summary>{html.escape(block.summary)}</summary>\n\n```\n{block.text}\n```\n\n</details>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_markdown(title: str, sections: list[Section]) -> str:
    """The report as Markdown; images are referenced by their path relative to the report folder."""
    parts = [f"# {title}"]
    for section in sections:
        parts.append(f"{'#' * section.level} {section.title}")
        parts.extend(_md_block(block) for block in section.blocks)
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- HTML

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; padding-bottom: .15em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child, td.text { text-align: left; }
tr.emph td { font-weight: bold; background: #f7f7f7; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
.gallery { display: flex; flex-wrap: wrap; gap: 1em; }
.gallery figure { flex: 1 1 340px; max-width: 560px; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .8em; }
"""


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html_block(block: Block, report_dir: Path) -> str:
    e = html.escape
    if isinstance(block, Paragraph):
        return f"<p>{e(block.text)}</p>"
    if isinstance(block, Link):
        lead = f"{e(block.lead)} " if block.lead else ""
        return f'<p>{lead}<a href="{e(block.href)}">{e(block.text)}</a></p>'
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th>{e(h)}</th>" for h in block.headers)
        body = []
        for index, row in enumerate(block.rows):
            cells = "".join(f"<td>{e(str(c))}</td>" for c in row)
            body.append(f'<tr class="emph">{cells}</tr>' if index in block.emphasis else f"<tr>{cells}</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    if isinstance(block, Image):
        source = report_dir / block.path
        if not source.is_file():
            return f"<p><em>missing figure {e(block.path)}</em></p>"
        return (
            f'<figure><img src="{_data_uri(source)}" alt="{e(block.caption)}">'
            f"<figcaption>{e(block.caption)}</figcaption></figure>"
        )
    if isinstance(block, Gallery):
        return '<div class="gallery">' + "".join(_html_block(i, report_dir) for i in block.images) + "</div>"
    if isinstance(block, Details):
        return f"<details><summary>{e(block.summary)}</summary><pre>{e(block.text)}</pre></details>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(title: str, sections: list[Section], report_dir: Path) -> str:
    """The report as one self-contained HTML page (images read from ``report_dir`` and embedded)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        level = min(max(section.level, 2), 6)
        parts.append(f"<h{level}>{html.escape(section.title)}</h{level}>")
        parts.extend(_html_block(block, Path(report_dir)) for block in section.blocks)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

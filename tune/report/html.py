"""Rendering a report document to Markdown and to HTML pages.

A report is a title plus a list of :class:`Section` objects holding plain blocks (paragraphs,
headings, links, bullet lists, tables, images, image galleries, collapsible preformatted text).
The same blocks render to ``report.md`` and to HTML pages (``report.html``, and the pages behind
it). Images are files in the report folder, referenced by relative path and lazy-loaded, never
embedded: a page stays small whatever the number of trials, and the report folder, zipped and
opened elsewhere, shows everything (CSS inline, no resource outside the folder).
"""

from __future__ import annotations

import html
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote


@dataclass
class Paragraph:
    text: str


@dataclass
class Heading:
    text: str
    level: int = 3


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


Block = Paragraph | Heading | Link | Bullets | Table | Image | Gallery | Details


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
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
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
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .85em; color: #555; }
.gallery { display: flex; flex-wrap: wrap; gap: 1em; }
.gallery figure { flex: 1 1 340px; max-width: 560px; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .8em; }
"""


def _png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG's header (None for anything else): the page reserves the space,
    so lazy loading only fetches the pictures near the screen.
    """
    with path.open("rb") as file:
        head = file.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@dataclass(frozen=True)
class _Page:
    """Where a page lies: the report folder its paths are relative to, and the page's own folder."""

    report_dir: Path
    page_dir: Path

    def href(self, path: str) -> str:
        """``path`` (relative to the report folder) as seen from the page."""
        return quote(PurePosixPath(os.path.relpath(self.report_dir / path, self.page_dir)).as_posix())


def _img(image: Image, page: _Page, *, linked: bool) -> str:
    e = html.escape
    source = page.report_dir / image.path
    if not source.is_file():
        return f"<p><em>missing figure {e(image.path)}</em></p>"
    size = _png_size(source)
    dimensions = f' width="{size[0]}" height="{size[1]}"' if size else ""
    src = e(page.href(image.path))
    tag = f'<img loading="lazy" src="{src}"{dimensions} alt="{e(image.caption)}">'
    if linked:  # a gallery thumbnail opens the picture at full size
        tag = f'<a href="{src}">{tag}</a>'
    return f"<figure>{tag}<figcaption>{e(image.caption)}</figcaption></figure>"


def _table(block: Table) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in block.headers)
    body = []
    for index, row in enumerate(block.rows):
        cells = "".join(f"<td>{e(str(c))}</td>" for c in row)
        body.append(f'<tr class="emph">{cells}</tr>' if index in block.emphasis else f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_block(block: Block, page: _Page) -> str:
    e = html.escape
    if isinstance(block, Paragraph):
        return f"<p>{e(block.text)}</p>"
    if isinstance(block, Heading):
        level = min(max(block.level, 2), 6)
        return f"<h{level}>{e(block.text)}</h{level}>"
    if isinstance(block, Link):
        lead = f"{e(block.lead)} " if block.lead else ""
        return f'<p>{lead}<a href="{e(page.href(block.href))}">{e(block.text)}</a></p>'
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{e(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Image):
        return _img(block, page, linked=False)
    if isinstance(block, Gallery):
        return '<div class="gallery">' + "".join(_img(i, page, linked=True) for i in block.images) + "</div>"
    if isinstance(block, Details):
        return f"<details><summary>{e(block.summary)}</summary><pre>{e(block.text)}</pre></details>"
    raise TypeError(f"unknown report block {type(block).__name__}")


def render_html(title: str, sections: list[Section], report_dir: Path, page_dir: Path | None = None) -> str:
    """The report as an HTML page that lies in ``page_dir`` (default: the report folder itself).

    Paths in the blocks are relative to ``report_dir``; the page refers to them relative to itself,
    so the folder can be moved, zipped or served as it is. Images are lazy-loaded files, never inlined.
    """
    page = _Page(Path(report_dir), Path(page_dir) if page_dir is not None else Path(report_dir))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        level = min(max(section.level, 2), 6)
        parts.append(f"<h{level}>{html.escape(section.title)}</h{level}>")
        parts.extend(_html_block(block, page) for block in section.blocks)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

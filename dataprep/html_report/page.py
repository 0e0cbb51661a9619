"""The report's HTML: the index page and the paged lists, every name and detail escaped.

No script at all: the Content-Security-Policy forbids scripts, plugins, frames and any request
but the page's own files and inline style, so nothing in the data can run or call out even if
a future change forgot an escape. Long sections show their first `cap` cards as a gallery and
the rest as static pages of text rows (`report-files/pages/`), so the index stays small at any
dataset size and its size grows with the findings.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from html import escape

from dataprep import __version__
from dataprep.base.defaults import DEFAULT_GALLERY
from dataprep.html_report.model import Card, CardGroup, Section

ASSETS = "report-files"  # beside index.html: thumbs/, pages/, the no-preview picture
CSP = "default-src 'none'; img-src 'self' file: data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
SEVERITY_COLOUR = {"error": "#c62828", "warning": "#ef6c00", "info": "#1565c0"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header p{margin:2px 0 0;color:#b0bec5;font-size:13px;word-break:break-all}
nav{padding:8px 24px;background:#eceff1;border-bottom:1px solid #cfd8dc;position:sticky;top:0;z-index:1}
nav a{display:inline-block;margin:2px 10px 2px 0;color:#263238;text-decoration:none;white-space:nowrap}
nav a .n{background:#fff;border-radius:9px;padding:0 6px;margin-left:3px;font-size:12px}
main{padding:6px 24px 40px}section{margin:18px 0 26px}h2{font-size:17px;margin:0 0 2px}
h2 .count{font-weight:normal;color:#666;font-size:14px}.desc{margin:2px 0 8px;color:#444}
.sev{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px;font-weight:600;vertical-align:2px}
.cmd{background:#263238;color:#e0f2f1;padding:6px 10px;border-radius:4px;margin:4px 0;overflow-x:auto}
.cmd code{white-space:pre;font:12.5px ui-monospace,Menlo,Consolas,monospace}.cmd .does{color:#90a4ae}
.note{background:#fff8e1;border-left:3px solid #ffb300;padding:6px 10px;margin:6px 0}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(176px,1fr));gap:10px}
figure{margin:0;background:#fff;border:1px solid #ddd;border-top:3px solid #90a4ae;border-radius:4px;padding:6px}
figure img{display:block;width:160px;height:120px;object-fit:contain;margin:0 auto;background:#f0f0f0}
figcaption{font-size:12px;margin-top:4px;overflow-wrap:anywhere}figcaption .p{font-weight:600}
figcaption .c{color:#00695c}figcaption .d{color:#444;display:block;white-space:pre-line}
.badge{display:inline-block;background:#eceff1;border-radius:3px;padding:0 4px;font-size:11px;margin-right:3px}
.group{background:#fff;border:1px solid #ddd;border-radius:4px;padding:6px 8px;margin:8px 0}
.group h3{font-size:13px;margin:0 0 6px;font-weight:600}.group .row{display:flex;gap:10px;overflow-x:auto}
.group figure{flex:0 0 176px;border-top-color:#7e57c2}.leak{border-color:#c62828;border-width:2px}
.leak h3 .sev{background:#c62828}table{border-collapse:collapse;background:#fff}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
td{white-space:pre-line}table.list{width:100%}table.list td:first-child{width:32%}table.list td:nth-child(2){width:12%}
th{background:#eceff1}.summary{display:flex;flex-wrap:wrap;gap:20px;align-items:flex-start}
.chart{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px}.chart h3{margin:0 0 4px;font-size:13px}
.more{margin:8px 0}.pager a{margin-right:6px}
"""


def e(text: object) -> str:
    """Escape any text for HTML text or a quoted attribute value."""
    return escape(str(text), quote=True)


def anchor(section_id: str) -> str:
    """A section id safe as an HTML id and a file name."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", section_id)


@dataclass(frozen=True)
class GalleryCaps:
    """How much of each section the index shows, and how the rest is paged."""

    cap: int = DEFAULT_GALLERY  # cards in a gallery on the index
    group_cap: int = 12  # groups on the index
    page_size: int = 500  # rows per page of the paged list

    def shown(self, section: Section) -> int:
        return min(len(section.cards), self.cap) if section.cards else min(len(section.groups), self.group_cap)

    def pages(self, section: Section) -> int:
        rest = section.count - self.shown(section)
        return 0 if rest <= 0 else -(-rest // self.page_size)


def page_name(section: Section, number: int) -> str:
    return f"{anchor(section.id)}-{number}.html"


def _head(title: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="referrer" content="no-referrer">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>")  # fmt: skip


def _sev(severity: str | None) -> str:
    if severity is None:
        return ""
    return f'<span class="sev" style="background:{SEVERITY_COLOUR.get(severity, "#555")}">{e(severity)}</span> '


def _card(card: Card, thumbs: dict[str, str]) -> str:
    src = f"{ASSETS}/thumbs/{thumbs[card.path]}" if card.path in thumbs else f"{ASSETS}/no-preview.svg"
    title = " — ".join(x for x in (card.path, card.label or "", card.detail) if x)
    colour = SEVERITY_COLOUR.get(card.severity or "", "#90a4ae")
    badge = f'<span class="badge">{e(card.badge)}</span>' if card.badge else ""
    label = f' <span class="c">{e(card.label)}</span>' if card.label else ""
    return (f'<figure style="border-top-color:{colour}" title="{e(title)}">'
            f'<img src="{e(src)}" loading="lazy" decoding="async" width="160" height="120" alt="{e(card.path)}">'
            f'<figcaption>{badge}<span class="p">{e(card.path)}</span>{label}'
            f'<span class="d">{e(card.detail)}</span></figcaption></figure>')  # fmt: skip


def _group(group: CardGroup, thumbs: dict[str, str]) -> str:
    leak = f'<span class="sev">leak: {e(group.leak)}</span> ' if group.leak else ""
    cls = "group leak" if group.leak else "group"
    cards = "".join(_card(c, thumbs) for c in group.cards)
    return f'<div class="{cls}"><h3>{leak}{e(group.title)}</h3><div class="row">{cards}</div></div>'


def _commands(section: Section) -> str:
    return "".join(
        f'<div class="cmd"><code>{e(shlex.join(c.argv))}</code><br><code class="does"># {e(c.does)}</code></div>'
        for c in section.commands
    )


def _pager(section: Section, pages: int, current: int | None, prefix: str) -> str:
    """Links to every page of a section's paged list (the first ten, and the last)."""
    numbers = sorted(
        {*range(1, min(pages, 10) + 1), pages} | ({current - 1, current, current + 1} if current else set())
    )
    links = [
        f"<b>{n}</b>" if n == current else f'<a href="{e(prefix + page_name(section, n))}">{n}</a>'
        for n in numbers
        if 1 <= n <= pages
    ]
    return '<span class="pager">' + " ".join(links) + "</span>"


def _section(section: Section, layout: GalleryCaps, thumbs: dict[str, str]) -> str:
    count = f' <span class="count">({section.count})</span>' if not section.tables else ""
    out = [f'<section id="{anchor(section.id)}"><h2>{_sev(section.severity)}{e(section.title)} '
           f'{count}</h2><p class="desc">{e(section.description)}</p>']  # fmt: skip
    if not (section.count or section.note or section.tables):
        out.append('<p class="desc">Nothing found.</p></section>')
        return "".join(out)
    out.append(_commands(section))
    if section.note:
        out.append(f'<p class="note">{e(section.note)}</p>')
    if section.tables or section.charts:
        tables = "".join(
            f'<table><tr><th colspan="2">{e(title)}</th></tr>'
            + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows)
            + "</table>"
            for title, rows in section.tables
        )
        charts = "".join(f'<div class="chart"><h3>{e(c.title)}</h3>{c.svg}</div>' for c in section.charts)
        out.append(f'<div class="summary">{tables}{charts}</div>')
    shown = layout.shown(section)
    if section.cards:
        out.append('<div class="gallery">' + "".join(_card(c, thumbs) for c in section.cards[:shown]) + "</div>")
    out.extend(_group(g, thumbs) for g in section.groups[:shown])
    pages = layout.pages(section)
    if pages:
        out.append(f'<p class="more">{section.count - shown} more, listed in {pages} page(s): '
                   f"{_pager(section, pages, None, f'{ASSETS}/pages/')}</p>")  # fmt: skip
    out.append("</section>")
    return "".join(out)


def index_html(title: str, subtitle: str, sections: list[Section], layout: GalleryCaps, thumbs: dict[str, str]) -> str:
    """The whole index page."""
    nav = "".join(
        f'<a href="#{anchor(s.id)}">{e(s.title)}<span class="n" style="color:{SEVERITY_COLOUR.get(s.severity or "", "#263238")}">'
        f"{s.count if s.count or not s.note else '–'}</span></a>"
        for s in sections
        if s.id != "summary"
    )
    body = "".join(_section(s, layout, thumbs) for s in sections)
    return (f"{_head(title)}<header><h1>{e(title)}</h1><p>{e(subtitle)}</p></header><nav>{nav}</nav>"
            f"<main>{body}</main></body></html>\n")  # fmt: skip


def _row(item: Card | CardGroup) -> str:
    if isinstance(item, Card):
        return f"<tr><td>{e(item.path)}</td><td>{e(item.label or '')}</td><td>{e(item.detail)}</td></tr>"
    paths = "<br>".join(e(c.path) for c in item.cards)
    leak = f"leak: {e(item.leak)}; " if item.leak else ""
    return f"<tr><td>{paths}</td><td>{leak}{e(item.title)}</td></tr>"


def list_page_html(title: str, section: Section, layout: GalleryCaps, number: int) -> str:
    """Page `number` (from 1) of the part of `section` the index does not show."""
    pages = layout.pages(section)
    start = layout.shown(section) + (number - 1) * layout.page_size
    items: list[Card | CardGroup] = [*section.cards[start : start + layout.page_size]]
    items += section.groups[start : start + layout.page_size]
    header = (
        "<tr><th>file</th><th>class</th><th>detail</th></tr>"
        if section.cards
        else "<tr><th>files</th><th>group</th></tr>"
    )
    rows = "".join(_row(item) for item in items)
    back = f'<a href="../../index.html#{anchor(section.id)}">back to the report</a>'
    pager = _pager(section, pages, number, "")
    return (f"{_head(f'{section.title} ({number}/{pages}) — {title}')}<header><h1>{e(section.title)}: "
            f"{start + 1}–{start + len(items)} of {section.count}</h1><p>{e(title)}</p></header>"
            f"<main><p>{back} · page {pager}</p><table class='list'>{header}{rows}</table><p>{back} · page {pager}</p>"
            f"</main></body></html>\n")  # fmt: skip


def generator_line() -> str:
    return f"dataprep {__version__} report"

"""Stage 05 document model and its two renderers: one self-contained HTML file and a Markdown twin.

:mod:`featevo.report` reads stages 01-04 and builds a :class:`Doc` (sections of paragraphs, tables,
figures and feature cards); this module only turns that into text. Both renderers read the same
``Doc``, so the HTML and the Markdown cannot say different things.

Inline markup in paragraph text: ``**bold**``, ``*italic*``, ```code``` and in-document links
``[text](#anchor)``; everything else is
escaped. Missing values are :data:`MISSING` (an en dash) and carry their reason in a table note. Numbers become
text only through the formatters of :mod:`featevo.report.numbers` (re-exported here).
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union

from featevo.report.numbers import (  # noqa: F401  (re-exported: sections import the formatters from here)
    MISSING, fci, finite, fint, fnum, fp, fpct, fsig, fsigned,
)

BASE_RGB = (31, 119, 180)  # featevo.plots.BASE_COLOR
TUNED_RGB = (255, 127, 14)  # featevo.plots.TUNED_COLOR


# --------------------------------------------------------------------------------------------
# Document model
# --------------------------------------------------------------------------------------------
@dataclass
class Para:
    text: str
    cls: str = ""  # "note", "finding", "lead"


@dataclass
class Bullets:
    items: list[str]
    cls: str = ""


@dataclass
class Cell:
    text: str
    numeric: bool = False
    title: str = ""  # tooltip (HTML only)
    wrap: bool = False  # long text (labels): may wrap; other cells stay on one line
    href: str = ""  # in-document anchor the text links to (a feature card), without '#'
    badges: list[tuple[str, str]] = field(default_factory=list)  # (mark, what it means): warnings after the text
    muted: bool = False  # greyed (an unreliable label)


@dataclass
class Table:
    id: str
    headers: list[str]
    rows: list[list[Union[Cell, str]]]
    caption: str = ""
    notes: list[str] = field(default_factory=list)
    source: str = ""  # the stage output the numbers come from, as <stage>/<file>

    def cell(self, r: int, c: int) -> Cell:
        v = self.rows[r][c]
        return v if isinstance(v, Cell) else Cell(str(v))


@dataclass
class Figure:
    path: Path  # PNG on disk (copied next to report.md, embedded in report.html)
    caption: str
    alt: str
    id: str = ""
    max_width: int = 0  # CSS pixels; 0: the page width


@dataclass
class Context:
    tokens: list[str]
    acts: list[float]
    max_act: float
    doc: str = ""
    note: str = ""  # where the context comes from ("probe, credit")


@dataclass
class CardSide:
    side: str  # "base" / "tuned"
    latent: Any  # int or None (no match)
    label: str
    facts: list[tuple[str, str]]  # (name, formatted value)
    contexts: list[Context]
    empty_reason: str = ""
    anchor: str = ""  # id of this side (card-<sae>-<latent>), the target of table links
    badges: list[tuple[str, str]] = field(default_factory=list)  # (mark, what it means), label and latent warnings
    unreliable: bool = False  # the label is flagged: the headline says so and the label goes below, small
    hist_svg: str = ""  # inline SVG (activation histogram), HTML only
    hist_note: str = ""  # what the histogram shows (both renderers)


@dataclass
class Card:
    id: str
    title: str
    facts: list[tuple[str, str]]
    base: CardSide
    tuned: CardSide


@dataclass
class Cards:
    cards: list[Card]
    heading: str = ""  # shown above the cards (a group: labelled, new, lost, most rotated)


@dataclass
class Tile:
    value: str  # the headline number, formatted
    label: str  # what it is
    sub: str = ""  # its comparison (seed baseline, other model)


@dataclass
class Tiles:
    tiles: list[Tile]


Block = Union[Para, Bullets, Table, Figure, Cards, Tiles]


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> "Section":
        self.blocks.extend(blocks)
        return self


@dataclass
class Doc:
    title: str
    subtitle: str
    meta: list[tuple[str, str]]
    sections: list[Section]


# --------------------------------------------------------------------------------------------
# Inline markup
# --------------------------------------------------------------------------------------------
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITAL = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")


_LINK = re.compile(r"\[([^\[\]]+)\]\(#([A-Za-z0-9_-]+)\)")  # [text](#anchor): in-document links only


def inline_html(text: str) -> str:
    out = html.escape(text, quote=False)
    out = _LINK.sub(r'<a href="#\2">\1</a>', out)
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return _ITAL.sub(r"<em>\1</em>", out)


def plain(text: str) -> str:
    """Inline markup removed (alt texts, tooltips)."""
    return _ITAL.sub(r"\1", _BOLD.sub(r"\1", _CODE.sub(r"\1", _LINK.sub(r"\1", text))))


def md_escape_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------------------------
# Token rendering (feature cards)
# --------------------------------------------------------------------------------------------
SPECIAL = {"[CLS]", "[SEP]", "[PAD]", "<s>", "</s>", "<pad>"}


def token_pieces(tokens: Sequence[str]) -> list[tuple[str, bool]]:
    """(display text, starts a new word) per token; WordPiece ``##`` continuations glue on."""
    out = []
    prev = prev2 = ""
    for i, t in enumerate(tokens):
        t = str(t)
        if prev in (".", ",") and prev2.isdigit() and t[:1].isdigit():
            out.append((t, False))  # 5 . 9 -> 5.9, 1 , 000 -> 1,000
        elif t.startswith("##"):
            out.append((t[2:], False))
        elif t.startswith("\u2581") or t.startswith("\u0120"):  # sentencepiece / BPE word starts
            out.append((t[1:], True))
        elif prev in ("'", "\u2019") and t.lower() in ("s", "t", "re", "ve", "ll", "d", "m"):
            out.append((t, False))  # company ' s -> company's
        elif prev in ("$", "(", "[", "{", "#"):
            out.append((t, False))
        else:
            out.append((t, i > 0 and not re.fullmatch(r"[.,;:!?%)\]}'\u2019]", t)))
        prev2, prev = prev, t
    return out


def context_html(ctx: Context, rgb: tuple[int, int, int], scale: float) -> str:
    parts = []
    best = max(range(len(ctx.acts)), key=lambda i: ctx.acts[i]) if ctx.acts else -1
    for i, ((text, space), tok) in enumerate(zip(token_pieces(ctx.tokens), ctx.tokens)):
        if str(tok) in SPECIAL:
            continue
        a = ctx.acts[i] if i < len(ctx.acts) and finite(ctx.acts[i]) else 0.0
        sep = " " if space else ""
        if a > 0 and scale > 0:
            alpha = min(1.0, 0.12 + 0.88 * a / scale)
            cls = "tok max" if i == best else "tok"
            parts.append(
                f'{sep}<span class="{cls}" style="background:rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.2f})" '
                f'title="{html.escape(str(tok))}: {fnum(a, 3)}">{html.escape(text)}</span>'
            )
        else:
            parts.append(sep + html.escape(text))
    return "".join(parts).strip()


def context_md(ctx: Context) -> str:
    """Markdown context: activating tokens in bold with the activation, the maximum marked."""
    parts = []
    for i, ((text, space), tok) in enumerate(zip(token_pieces(ctx.tokens), ctx.tokens)):
        if str(tok) in SPECIAL:
            continue
        a = ctx.acts[i] if i < len(ctx.acts) and finite(ctx.acts[i]) else 0.0
        sep = " " if space else ""
        text = text.replace("*", "\\*").replace("|", "\\|").replace("_", "\\_")
        parts.append(f"{sep}**{text}**<sub>{fnum(a, 2)}</sub>" if a > 0 else sep + text)
    return "".join(parts).strip()


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------
CSS = """
:root { --base: #1f77b4; --tuned: #ff7f0e; --null: #7f7f7f; --ink: #1d2430; --muted: #5b6472;
        --rule: #e3e7ee; --bg: #ffffff; --panel: #f6f8fb; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.55 -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 28px 36px 80px; }
header.top { border-bottom: 3px solid var(--ink); padding-bottom: 14px; margin-bottom: 8px; }
h1 { font-size: 30px; line-height: 1.2; margin: 0 0 6px; letter-spacing: -0.01em; }
.subtitle { color: var(--muted); font-size: 16px; margin: 0 0 12px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; font-size: 13px; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; font-family: "DejaVu Sans Mono", Menlo, monospace; \
font-size: 12.5px; }
nav.toc { margin: 16px 0 8px; padding: 10px 14px; background: var(--panel); border-radius: 6px; font-size: 14px; }
nav.toc ol { margin: 0; padding-left: 20px; columns: 2; column-gap: 40px; }
nav.toc a { color: var(--ink); text-decoration: none; } nav.toc a:hover { text-decoration: underline; }
section { margin-top: 34px; }
h2 { font-size: 22px; margin: 0 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 17px; margin: 20px 0 8px; }
p { margin: 8px 0; max-width: 920px; }
p.note { color: var(--muted); font-size: 13.5px; }
p.lead { font-size: 16px; }
ul.finding { padding-left: 0; list-style: none; max-width: 980px; }
ul.finding li { margin: 6px 0; padding: 8px 12px; background: var(--panel); border-left: 4px solid var(--ink); \
border-radius: 3px; }
ul { max-width: 980px; }
ul.controls li { margin: 5px 0; padding: 6px 12px; background: #fff8e6; border-left: 4px solid #b26a00; \
border-radius: 3px; font-size: 14px; }
ul.supports, ul.unsupported, ul.controls { padding-left: 0; list-style: none; max-width: 980px; }
ul.supports li { margin: 6px 0; padding: 8px 12px; background: #eef7ee; border-left: 4px solid #2e7d32; \
border-radius: 3px; }
ul.supports.none li { background: var(--panel); border-left-color: var(--muted); }
ul.unsupported li { margin: 4px 0; padding: 6px 12px; color: var(--muted); border-left: 4px solid var(--rule); \
font-size: 14px; }
code { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 0.9em; background: #eef1f6; padding: 0 3px; \
border-radius: 3px; }
.legend-base { color: var(--base); font-weight: 600; } .legend-tuned { color: var(--tuned); font-weight: 600; }
figure { margin: 14px 0 18px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 6px; max-width: 980px; }
.table-wrap { overflow-x: auto; margin: 0 0 4px; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
.tcap { font-weight: 600; margin: 18px 0 6px; font-size: 14px; }
th, td { padding: 5px 9px; border-bottom: 1px solid var(--rule); vertical-align: top; text-align: left; \
white-space: nowrap; }
td.wrap { white-space: normal; min-width: 160px; max-width: 300px; }
th { background: var(--panel); font-weight: 600; border-bottom: 2px solid #cfd6e0; white-space: normal;
     vertical-align: bottom; max-width: 150px; }
td.num { text-align: right; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fbfcfe; }
.tnotes { color: var(--muted); font-size: 12.5px; margin: 2px 0 12px; }
.tnotes div { margin: 1px 0; }
.src { color: var(--muted); font-size: 12px; }
.cards { display: flex; flex-direction: column; gap: 18px; }
.card { border: 1px solid var(--rule); border-radius: 8px; overflow: hidden; }
.card-head { padding: 9px 14px; background: var(--panel); border-bottom: 1px solid var(--rule); }
.card-head h3 { margin: 0 0 3px; font-size: 16px; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 13px; color: var(--muted); }
.facts b { color: var(--ink); font-weight: 600; font-variant-numeric: tabular-nums; }
.sides { display: grid; grid-template-columns: 1fr 1fr; }
.side { padding: 10px 14px 12px; min-width: 0; }
.side + .side { border-left: 1px solid var(--rule); }
.side.base { border-top: 4px solid var(--base); } .side.tuned { border-top: 4px solid var(--tuned); }
.side .who { font-size: 12px; text-transform: uppercase; letter-spacing: 0.06em; font-weight: 700; }
.side.base .who { color: var(--base); } .side.tuned .who { color: var(--tuned); }
.side .label { font-size: 15px; font-weight: 600; margin: 2px 0 6px; }
.side .empty { color: var(--muted); font-style: italic; font-size: 13.5px; }
ol.ctx { margin: 6px 0 0; padding-left: 22px; font-size: 13.5px; line-height: 1.85; }
ol.ctx li { margin: 0 0 3px; overflow-wrap: anywhere; }
ol.ctx li .amax { color: var(--muted); font-size: 11.5px; margin-left: 6px; font-variant-numeric: tabular-nums; }
.badge { display: inline-block; font-size: 10.5px; font-weight: 600; line-height: 1.3; padding: 0 4px; \
margin-left: 4px; border-radius: 3px; background: #fdecea; color: #a4281b; border: 1px solid #f1b7b0; \
white-space: nowrap; vertical-align: 1px; cursor: help; }
.muted { color: #8a919c; }
td a, .who a { color: inherit; text-decoration: underline dotted; }
.side .label.unreliable { color: var(--muted); font-style: italic; }
.side .small-label { color: #8a919c; font-size: 12.5px; margin: -4px 0 6px; }
.hist { margin: 6px 0 2px; } .hist svg { display: block; } .hist .hn { color: var(--muted); font-size: 11.5px; }
h3.cards-head { margin: 22px 0 8px; }
.tok { border-radius: 3px; padding: 1px 1px; }
.tok.max { outline: 1.5px solid #1d2430; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin: 14px 0 6px; }
.tile { border: 1px solid var(--rule); border-radius: 8px; padding: 10px 14px; background: #fff;
        border-top: 4px solid var(--tuned); }
.tile .tv { font-size: 24px; font-weight: 700; white-space: nowrap; font-variant-numeric: tabular-nums; \
line-height: 1.2; }
.tile .tl { font-size: 13px; font-weight: 600; margin-top: 2px; }
.tile .ts { font-size: 12.5px; color: var(--muted); margin-top: 2px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; border-top: 1px solid var(--rule); \
padding-top: 10px; }
@media (max-width: 820px) { .sides { grid-template-columns: 1fr; } .side + .side { border-left: 0; } \
nav.toc ol { columns: 1; } }
@media print { main { max-width: none; padding: 0; } section { break-inside: auto; } .card { break-inside: avoid; } }
"""


def _png_data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _badges_html(badges: Sequence[tuple[str, str]]) -> str:
    return "".join(f'<span class="badge" title="{html.escape(plain(t))}">{html.escape(m)}</span>' for m, t in badges)


def _cell_inner(cell: Cell) -> str:
    text = inline_html(cell.text)
    if cell.href:
        text = f'<a href="#{html.escape(cell.href)}">{text}</a>'
    if cell.muted:
        text = f'<span class="muted">{text}</span>'
    return text + _badges_html(cell.badges)


def _badges_md(badges: Sequence[tuple[str, str]]) -> str:
    """Warning marks in plain text: `` [!dense 19%]`` (the HTML has them as badges with their meaning on hover)."""
    return "".join(f" [!{m}]" for m, _ in badges)


def _cell_md(cell: Cell) -> str:
    text = cell.text
    if cell.href:
        text = f"[{text}](#{cell.href})"
    if cell.muted:
        text = f"*{text}*" if text and "*" not in text else text
    return text + _badges_md(cell.badges)


def _table_html(t: Table) -> str:
    head = "".join(f"<th>{inline_html(h)}</th>" for h in t.headers)
    body = []
    for r in range(len(t.rows)):
        tds = []
        for c in range(len(t.headers)):
            cell = t.cell(r, c)
            cls = ' class="num"' if cell.numeric else ' class="wrap"' if cell.wrap else ""
            title = f' title="{html.escape(cell.title)}"' if cell.title else ""
            tds.append(f"<td{cls}{title}>{_cell_inner(cell)}</td>")
        body.append("<tr>" + "".join(tds) + "</tr>")
    cap = f'<div class="tcap">{inline_html(t.caption)}</div>' if t.caption else ""
    notes = list(t.notes) + ([f"Source: `{t.source}`"] if t.source else [])
    notes_html = (
        '<div class="tnotes">' + "".join(f"<div>{inline_html(n)}</div>" for n in notes) + "</div>" if notes else ""
    )
    return (
        f'{cap}<div class="table-wrap"><table id="{html.escape(t.id)}"><thead><tr>{head}</tr></thead>'
        f'<tbody>{"".join(body)}</tbody></table></div>{notes_html}'
    )


def _side_html(s: CardSide) -> str:
    who = "base" if s.side == "base" else "tuned"
    latent = f" latent {s.latent}" if s.latent is not None else ""
    anchor = f' id="{html.escape(s.anchor)}"' if s.anchor else ""
    out = [f'<div class="side {who}"{anchor}><div class="who">{who}{html.escape(latent)}{_badges_html(s.badges)}'
           '</div>']
    if s.latent is None:
        out.append(f'<div class="empty">{inline_html(s.empty_reason or "no matching latent")}</div></div>')
        return "".join(out)
    if s.unreliable:
        out.append('<div class="label unreliable">no reliable label</div>'
                   f'<div class="small-label">label: {inline_html(s.label)}</div>')
    else:
        out.append(f'<div class="label">{inline_html(s.label)}</div>')
    if s.facts:
        out.append('<div class="facts">' + "".join(
            f"<span>{inline_html(k)} <b>{inline_html(v)}</b></span>" for k, v in s.facts) + "</div>")
    if s.hist_svg:
        out.append(f'<div class="hist">{s.hist_svg}<div class="hn">{inline_html(s.hist_note)}</div></div>')
    rgb = BASE_RGB if who == "base" else TUNED_RGB
    if s.contexts:
        scale = max((c.max_act for c in s.contexts if finite(c.max_act)), default=0.0)
        items = "".join(
            f'<li>{context_html(c, rgb, scale)}<span class="amax">max {fnum(c.max_act, 2)}'
            f'{" · " + html.escape(c.note) if c.note else ""}</span></li>'
            for c in s.contexts
        )
        out.append(f'<ol class="ctx">{items}</ol>')
    else:
        out.append(f'<div class="empty">{inline_html(s.empty_reason or "no activating contexts saved")}</div>')
    out.append("</div>")
    return "".join(out)


def _cards_html(cards: Cards) -> str:
    out = [f'<h3 class="cards-head">{inline_html(cards.heading)}</h3>' if cards.heading else "", '<div class="cards">']
    for c in cards.cards:
        facts = "".join(f"<span>{inline_html(k)} <b>{inline_html(v)}</b></span>" for k, v in c.facts)
        out.append(
            f'<article class="card" id="{html.escape(c.id)}"><div class="card-head"><h3>{inline_html(c.title)}</h3>'
            f'<div class="facts">{facts}</div></div><div class="sides">{_side_html(c.base)}{_side_html(c.tuned)}'
            f"</div></article>"
        )
    out.append("</div>")
    return "".join(out)


def _block_html(b: Block) -> str:
    if isinstance(b, Para):
        cls = f' class="{b.cls}"' if b.cls else ""
        return f"<p{cls}>{inline_html(b.text)}</p>"
    if isinstance(b, Bullets):
        cls = f' class="{b.cls}"' if b.cls else ""
        return f"<ul{cls}>" + "".join(f"<li>{inline_html(i)}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Table):
        return _table_html(b)
    if isinstance(b, Figure):
        fid = f' id="{html.escape(b.id)}"' if b.id else ""
        style = f' style="max-width:{b.max_width}px"' if b.max_width else ""
        return (
            f'<figure{fid}><img src="{_png_data_uri(b.path)}" alt="{html.escape(plain(b.alt))}"{style}>'
            f"<figcaption>{inline_html(b.caption)}</figcaption></figure>"
        )
    if isinstance(b, Cards):
        return _cards_html(b)
    if isinstance(b, Tiles):
        return '<div class="tiles">' + "".join(
            f'<div class="tile"><div class="tv">{inline_html(t.value)}</div><div class="tl">{inline_html(t.label)}'
            f'</div><div class="ts">{inline_html(t.sub)}</div></div>' for t in b.tiles) + "</div>"
    raise TypeError(type(b))


def render_html(doc: Doc) -> str:
    meta = "".join(f"<dt>{html.escape(k)}</dt><dd>{inline_html(v)}</dd>" for k, v in doc.meta)
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in doc.sections)
    secs = "".join(
        f'<section id="{s.id}"><h2>{html.escape(s.title)}</h2>' + "".join(_block_html(b) for b in s.blocks)
        + "</section>"
        for s in doc.sections
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">"
        f"<title>{html.escape(doc.title)}</title><style>{CSS}</style></head><body><main>"
        f'<header class="top"><h1>{html.escape(doc.title)}</h1><p class="subtitle">{inline_html(doc.subtitle)}</p>'
        f'<dl class="meta">{meta}</dl></header><nav class="toc"><ol>{toc}</ol></nav>{secs}'
        "<footer>Generated by featevo stage 05 (<code>05_report/report.py</code>). Every number above is read "
        "from the stage outputs named under each table; nothing is typed in by hand.</footer>"
        "</main></body></html>\n"
    )


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------
def _table_md(t: Table) -> str:
    lines = []
    if t.caption:
        lines.append(f"**{t.caption}**")
        lines.append("")
    lines.append(f"<a id=\"{t.id}\"></a>")
    lines.append("")
    lines.append("| " + " | ".join(md_escape_cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---:" if any(t.cell(r, c).numeric for r in range(len(t.rows))) else "---"
                                for c in range(len(t.headers))) + "|")
    for r in range(len(t.rows)):
        lines.append("| " + " | ".join(md_escape_cell(_cell_md(t.cell(r, c))) for c in range(len(t.headers))) + " |")
    notes = list(t.notes) + ([f"Source: `{t.source}`"] if t.source else [])
    if notes:
        lines.append("")
        lines.extend(f"<sub>{n}</sub><br>" if i < len(notes) - 1 else f"<sub>{n}</sub>"
                     for i, n in enumerate(notes))
    return "\n".join(lines)


def _cards_md(cards: Cards) -> str:
    out = [f"### {cards.heading}", ""] if cards.heading else []
    for c in cards.cards:
        out.append(f"{'####' if cards.heading else '###'} {c.title}")
        out.append("")
        if c.facts:
            out.append(" · ".join(f"{k} **{v}**" for k, v in c.facts))
            out.append("")
        for s in (c.base, c.tuned):
            who = "Base" if s.side == "base" else "Tuned"
            if s.latent is None:
                out.append(f"**{who}:** {s.empty_reason or 'no matching latent'}")
                out.append("")
                continue
            facts = "; ".join(f"{k} {v}" for k, v in s.facts)
            anchor = f'<a id="{s.anchor}"></a>' if s.anchor else ""
            marks = _badges_md(s.badges)
            head = (f"**{who} latent {s.latent}: no reliable label**{marks} (label: *{s.label}*)" if s.unreliable
                    else f"**{who} latent {s.latent}: {s.label}**{marks}")
            out.append(anchor + head + (f" ({facts})" if facts else ""))
            out.append("")
            if s.hist_note:
                out.append(f"<sub>{s.hist_note}</sub>")
                out.append("")
            if s.contexts:
                out.extend(f"{i + 1}. {context_md(ctx)} (max {fnum(ctx.max_act, 2)}"
                           f"{'; ' + ctx.note if ctx.note else ''})" for i, ctx in enumerate(s.contexts))
            else:
                out.append(f"*{s.empty_reason or 'no activating contexts saved'}*")
            out.append("")
    return "\n".join(out).rstrip()


def _block_md(b: Block, fig_rel: dict[Path, str]) -> str:
    if isinstance(b, Para):
        return f"> {b.text}" if b.cls == "note" else b.text
    if isinstance(b, Bullets):
        return "\n".join(f"- {i}" for i in b.items)
    if isinstance(b, Table):
        return _table_md(b)
    if isinstance(b, Figure):
        return f"![{plain(b.alt)}]({fig_rel[b.path]})\n\n*{b.caption}*"
    if isinstance(b, Cards):
        return _cards_md(b)
    if isinstance(b, Tiles):
        return "\n".join(["| " + " | ".join(md_escape_cell(t.label) for t in b.tiles) + " |",
                          "|" + "---|" * len(b.tiles),
                          "| " + " | ".join(f"**{md_escape_cell(t.value)}**" for t in b.tiles) + " |",
                          "| " + " | ".join(md_escape_cell(t.sub) for t in b.tiles) + " |"])
    raise TypeError(type(b))


def render_md(doc: Doc, fig_rel: dict[Path, str]) -> str:
    """Markdown twin; ``fig_rel`` maps each figure path to its path relative to report.md."""
    out = [f"# {doc.title}", "", doc.subtitle, ""]
    out.extend(f"- {k}: {v}" for k, v in doc.meta)
    out.append("")
    out.append("## Contents")
    out.append("")
    out.extend(f"{i + 1}. [{s.title}](#{s.id})" for i, s in enumerate(doc.sections))
    for s in doc.sections:
        out += ["", f'<a id="{s.id}"></a>', "", f"## {s.title}", ""]
        for b in s.blocks:
            out.append(_block_md(b, fig_rel))
            out.append("")
    out.append("---")
    out.append("Generated by featevo stage 05 (`05_report/report.py`). Every number is read from the stage outputs "
               "named under each table; nothing is typed in by hand.")
    return "\n".join(out).rstrip() + "\n"

"""Markdown building blocks that keep text from alarms, logs and people inert.

Whatever this code did not write itself goes through one of these helpers: `inline` for prose
and table cells, `code_span` / `code_block` for verbatim text (fenced with more backticks than
the text holds), `mermaid_text` for diagram labels (a small safe alphabet) and `link` for the
URLs we build. An alarm description or a log line can then neither inject HTML, links or
images, nor break a table, a code block or the Mermaid diagram.

Escaping alone does not stop bare URLs: GitHub-flavoured Markdown's autolink extension turns
`https://...` and `www....` in plain text into links, so a log line could plant a clickable
link in the document. `inline` (and so `block`) defangs them as incident reports usually do,
`https[:]//evil.example`, `www[.]evil.example` and `ops[@]evil.example`: readable, but no
longer links. The runbook's
own console links go through `link`, whose destination is left as it is.
"""

from __future__ import annotations

import html
import re
from typing import Any

# Characters Markdown gives meaning anywhere in a line (GFM tables, emphasis, links, code,
# strikethrough, headings, math).
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|#~$])")
# Invisible or direction-changing characters: they hide text from reviewers.
_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# What a line may not start with in a blockquote: lists, setext underlines, numbered lists.
_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")
_BACKTICKS = re.compile(r"`+")
_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 ._/+=@-]+")
# Words that start a Mermaid gantt statement: a label may not begin with one.
_MERMAID_KEYWORDS = frozenset(
    {
        "gantt",
        "title",
        "section",
        "dateformat",
        "axisformat",
        "tickinterval",
        "excludes",
        "includes",
        "todaymarker",
        "weekday",
        "weekend",
        "click",
        "acctitle",
        "accdescr",
        "inclusiveenddates",
        "topaxis",
        "displaymode",
        "end",
    }
)
# What GFM's autolink extension links in text: http://, https:// and ftp:// (cmark-gfm reads
# the scheme case-insensitively; every occurrence is defanged, even mid-word, where other
# renderers' linkifiers may still fire) and `www.` not inside a word (cmark-gfm wants the start
# of a line, a space or one of `*_~(` before it; `_` is a word character, hence no `\b`).
_AUTOLINK_SCHEME = re.compile(r"(?i)(https?|ftp)://")
_AUTOLINK_WWW = re.compile(r"(?i)(?<![a-z0-9])(www)\.")
# GFM's extended e-mail autolink (`a.b+c@host.example`, also behind `mailto:` or `xmpp:`): the
# `@` between a local part and a dotted domain.
_AUTOLINK_EMAIL = re.compile(r"(?<=[A-Za-z0-9._+-])@(?=[A-Za-z0-9_-]+\.[A-Za-z0-9])")
_URL_UNSAFE = {"<": "%3C", ">": "%3E", " ": "%20", '"': "%22", "\n": "", "\r": "", "\t": ""}


def clean(text: Any) -> str:
    """The text as a string without control or invisible characters (tabs become spaces)."""
    value = "" if text is None else str(text)
    return _INVISIBLE.sub("", value.replace("\t", " "))


def defang(text: str) -> str:
    """Bare URLs and e-mail addresses as text GFM does not autolink: `https[:]//host`,
    `www[.]host`, `ops[@]example.com` (the brackets are escaped by `inline` afterwards, so they
    show as typed)."""
    text = _AUTOLINK_EMAIL.sub("[@]", text)
    return _AUTOLINK_WWW.sub(r"\1[.]", _AUTOLINK_SCHEME.sub(r"\1[:]//", text))


def inline(text: Any, limit: int = 0) -> str:
    """One line of escaped Markdown, safe in prose and inside a table cell, with bare URLs
    defanged so they show as text, not as links."""
    value = " ".join(clean(text).split())
    if limit and len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return _MD_SPECIAL.sub(r"\\\1", html.escape(defang(value), quote=False))


def block(text: Any, limit: int = 0) -> str:
    """Escaped multi-line text as a blockquote (no line can start a list or a heading)."""
    lines = []
    for raw in clean(text).splitlines():
        if not raw.strip():
            continue
        line = inline(raw, limit)
        lines.append(_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), line, count=1))
    return "\n".join(f"> {line}" for line in lines) if lines else "> (none)"


def _fence(value: str, minimum: int) -> str:
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    return "`" * max(minimum, longest + 1)


def code_span(text: Any, in_table: bool = False, limit: int = 300) -> str:
    """Verbatim text on one line. In a table, `|` is escaped (GFM splits cells first)."""
    value = " ".join(clean(text).split())
    if limit and len(value) > limit:
        value = value[: limit - 1] + "…"
    if not value:
        return "(empty)"
    if in_table:
        value = value.replace("|", "\\|")
    fence = _fence(value, 1)
    if value.startswith("`") or value.endswith("`"):
        value = f" {value} "
    return f"{fence}{value}{fence}"


def code_block(text: Any, language: str = "", limit: int = 8000) -> str:
    """Verbatim multi-line text in a fence longer than any run of backticks inside it."""
    value = "\n".join(line.rstrip() for line in clean(text).splitlines())
    if limit and len(value) > limit:
        value = value[:limit] + "\n… (cut)"
    fence = _fence(value, 3)
    return f"{fence}{language}\n{value}\n{fence}"


def safe_url(url: str) -> str:
    """A URL fit for `[text](<url>)`: no angle brackets, spaces, quotes or line breaks."""
    for char, replacement in _URL_UNSAFE.items():
        url = url.replace(char, replacement)
    return url


def link(text: Any, url: str) -> str:
    """A Markdown link whose text is escaped and whose destination cannot end early."""
    return f"[{inline(text)}](<{safe_url(url)}>)"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A GFM table; cells must already be escaped (`inline`, `code_span(in_table=True)`)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def mermaid_text(text: Any, limit: int = 60) -> str:
    """A Mermaid label from a small alphabet: nothing that could end a statement or the block."""
    value = " ".join(_MERMAID_UNSAFE.sub(" ", clean(text)).split())[:limit].strip()
    if not value:
        return "event"
    if value.split()[0].lower() in _MERMAID_KEYWORDS:
        value = f"event {value}"[:limit].strip()
    return value

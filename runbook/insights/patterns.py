"""Logs Insights patterns as Python regular expressions.

Logs Insights takes RE2-style regexes and Python's `re` differs where queries care:
named groups are `(?<name>...)` (Python: `(?P<name>...)`, and names there must be
identifiers, while Insights allows `@` and `.`), `(?i)` may stand anywhere (Python 3.11+
wants global flags first), `\\z` ends the text, and POSIX classes like `[[:digit:]]` exist.
Glob patterns of `parse` (`"user=*, latency=*"`) become regexes with one group per `*`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from runbook.insights.errors import QuerySyntaxError

_GROUP_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_@.]*")
_GLOBAL_FLAGS = re.compile(r"\(\?([a-zA-Z]+)\)")
_SUPPORTED_FLAGS = frozenset("ims")
_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r"\s",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
}


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern and the fields its groups fill, as (python group, field name)."""

    regex: re.Pattern[str]
    fields: tuple[tuple[str, str], ...]


def compile_regex(source: str, position: int, query: str) -> Pattern:
    """Compile a Logs Insights regex; named groups become fields."""
    translated, fields = _translate(source, position, query)
    try:
        return Pattern(re.compile(translated), tuple(fields))
    except re.error as exc:
        raise QuerySyntaxError(f"invalid regular expression: {exc}", position, query) from exc


def compile_glob(source: str, names: list[str], position: int, query: str) -> Pattern:
    """A `parse` glob: each `*` captures the shortest text up to what follows it; a trailing
    `*` takes the rest of the value. The match may start anywhere in the value."""
    parts = source.split("*")
    if len(parts) - 1 != len(names):
        raise QuerySyntaxError(
            f"the pattern has {len(parts) - 1} wildcard(s) but {len(names)} field name(s)",
            position,
            query,
        )
    if not names:
        raise QuerySyntaxError("a parse pattern needs at least one *", position, query)
    regex = re.escape(parts[0])
    fields = []
    for index, literal in enumerate(parts[1:]):
        group = f"g{index}"
        last = index == len(parts) - 2
        lazy = "" if last and literal == "" else "?"
        regex += f"(?P<{group}>.*{lazy}){re.escape(literal)}"
        fields.append((group, names[index]))
    return Pattern(re.compile(regex, re.DOTALL), tuple(fields))


def _translate(source: str, position: int, query: str) -> tuple[str, list[tuple[str, str]]]:
    out: list[str] = []
    flags: set[str] = set()
    fields: list[tuple[str, str]] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "\\":
            if i + 1 >= n:
                raise QuerySyntaxError("regular expression ends with \\", position, query)
            nxt = source[i + 1]
            if nxt == "z":
                out.append(r"\Z")
            elif nxt == "Q":
                end = source.find(r"\E", i + 2)
                literal = source[i + 2 :] if end < 0 else source[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            else:
                out.append(source[i : i + 2])
            i += 2
        elif char == "[":
            i = _char_class(source, i, out, position, query)
        elif source.startswith("(?<", i) and source[i + 3 : i + 4] not in ("=", "!"):
            i = _named_group(source, i, 3, out, fields, position, query)
        elif source.startswith("(?P<", i):
            i = _named_group(source, i, 4, out, fields, position, query)
        elif (match := _GLOBAL_FLAGS.match(source, i)) is not None:
            unknown = set(match.group(1)) - _SUPPORTED_FLAGS
            if unknown:
                raise QuerySyntaxError(
                    f"unsupported regex flag(s) {''.join(sorted(unknown))}", position, query
                )
            flags.update(match.group(1))
            i = match.end()
        else:
            out.append(char)
            i += 1
    prefix = f"(?{''.join(sorted(flags))})" if flags else ""
    return prefix + "".join(out), fields


def _named_group(
    source: str,
    i: int,
    skip: int,
    out: list[str],
    fields: list[tuple[str, str]],
    position: int,
    query: str,
) -> int:
    end = source.find(">", i + skip)
    name = source[i + skip : end] if end >= 0 else ""
    if not _GROUP_NAME.fullmatch(name):
        raise QuerySyntaxError(f"invalid capture group name {name!r}", position, query)
    group = f"g{len(fields)}"
    fields.append((group, name))
    out.append(f"(?P<{group}>")
    return end + 1


def _char_class(source: str, i: int, out: list[str], position: int, query: str) -> int:
    """Copy a bracket expression, expanding POSIX classes; `]` first is a literal."""
    out.append("[")
    i += 1
    if source.startswith("^", i):
        out.append("^")
        i += 1
    if source.startswith("]", i):
        out.append(r"\]")
        i += 1
    while i < len(source):
        if source.startswith("[:", i):
            end = source.find(":]", i + 2)
            name = source[i + 2 : end] if end >= 0 else ""
            if name not in _POSIX_CLASSES:
                raise QuerySyntaxError(f"unknown character class [:{name}:]", position, query)
            out.append(_POSIX_CLASSES[name])
            i = end + 2
        elif source[i] == "\\" and i + 1 < len(source):
            out.append(source[i : i + 2])
            i += 2
        elif source[i] == "[":
            out.append(r"\[")
            i += 1
        elif source[i] == "]":
            out.append("]")
            return i + 1
        else:
            out.append(source[i])
            i += 1
    raise QuerySyntaxError("unterminated character class in regular expression", position, query)

"""Tokens of the Logs Insights query language.

A `/` starts a regular expression only where the language expects one (after `like`, `=~`,
`parse` and `parse <field>`); everywhere else it divides. Keeping that decision here lets a
regex or a string hold `|`, `#` and `/` without splitting the query into commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from runbook.insights.errors import QuerySyntaxError

Kind = Literal["name", "string", "number", "duration", "regex", "op", "pipe", "eof"]

# Field names: letters, digits, `_`, `@` and `.`; anything else needs backticks.
_NAME = re.compile(r"[A-Za-z_@][A-Za-z0-9_@.]*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_DURATION = re.compile(r"(\d+)([A-Za-z]+)")
_OPERATORS = ("!=", "<=", ">=", "==", "=~", "=", "<", ">", "+", "-", "*", "/", "%", "^", "(")
_PUNCTUATION = (")", "[", "]", ",")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}


@dataclass(frozen=True)
class Token:
    """One token; `start`/`end` are offsets into the query text."""

    kind: Kind
    text: str  # the source text (for strings and regexes: the unquoted content)
    start: int
    end: int
    quoted: bool = False  # a backticked name: never a keyword

    def is_word(self, *words: str) -> bool:
        """True for an unquoted name that is one of `words` (case-insensitive)."""
        return self.kind == "name" and not self.quoted and self.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        """True for one of the operator/punctuation tokens `ops`."""
        return self.kind == "op" and self.text in ops


def tokenize(query: str) -> list[Token]:
    """All tokens of `query`, ending with an `eof` token."""
    return _Lexer(query).run()


class _Lexer:
    def __init__(self, query: str) -> None:
        self.query = query
        self.pos = 0
        self.tokens: list[Token] = []

    def error(self, message: str, position: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, position, self.query)

    def run(self) -> list[Token]:
        text = self.query
        while True:
            self._skip_space_and_comments()
            if self.pos >= len(text):
                self.tokens.append(Token("eof", "", self.pos, self.pos))
                return self.tokens
            char = text[self.pos]
            if char == "|":
                self._emit("pipe", "|", self.pos + 1)
            elif char in "\"'":
                self._string(char)
            elif char == "`":
                self._backticked()
            elif char == "/" and self._regex_expected():
                self._regex()
            elif char.isdigit():
                self._number()
            elif _NAME.match(text, self.pos):
                match = _NAME.match(text, self.pos)
                assert match is not None
                self._emit("name", match.group(), match.end())
            else:
                self._operator()

    def _emit(self, kind: Kind, value: str, end: int, quoted: bool = False) -> None:
        self.tokens.append(Token(kind, value, self.pos, end, quoted))
        self.pos = end

    def _skip_space_and_comments(self) -> None:
        text = self.query
        while self.pos < len(text):
            if text[self.pos].isspace():
                self.pos += 1
            elif text[self.pos] == "#":
                newline = text.find("\n", self.pos)
                self.pos = len(text) if newline < 0 else newline + 1
            else:
                return

    def _regex_expected(self) -> bool:
        if not self.tokens:
            return False
        last = self.tokens[-1]
        if last.is_word("like") or last.is_op("=~"):
            return True
        if last.is_word("parse") and self._starts_command(len(self.tokens) - 1):
            return True
        # `parse <field> /regex/`
        return (
            last.kind == "name"
            and len(self.tokens) >= 2
            and self.tokens[-2].is_word("parse")
            and self._starts_command(len(self.tokens) - 2)
        )

    def _starts_command(self, index: int) -> bool:
        return index == 0 or self.tokens[index - 1].kind == "pipe"

    def _string(self, quote: str) -> None:
        text, start = self.query, self.pos
        i, out = start + 1, []
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                nxt = text[i + 1]
                out.append(_ESCAPES.get(nxt, "\\" + nxt))
                i += 2
            elif char == quote:
                self._emit("string", "".join(out), i + 1)
                return
            else:
                out.append(char)
                i += 1
        raise self.error("unterminated string", start)

    def _backticked(self) -> None:
        start = self.pos
        end = self.query.find("`", start + 1)
        if end < 0:
            raise self.error("unterminated backtick-quoted field name", start)
        if end == start + 1:
            raise self.error("empty field name", start)
        self._emit("name", self.query[start + 1 : end], end + 1, quoted=True)

    def _regex(self) -> None:
        text, start = self.query, self.pos
        i, out = start + 1, []
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                # `\/` is an escaped delimiter; every other escape belongs to the regex.
                out.append("/" if text[i + 1] == "/" else text[i : i + 2])
                i += 2
            elif char == "/":
                if i + 1 < len(text) and text[i + 1].isalpha():
                    raise self.error(
                        "flags after a regular expression are not supported; use (?i)", i + 1
                    )
                self._emit("regex", "".join(out), i + 1)
                return
            elif char == "\n":
                break
            else:
                out.append(char)
                i += 1
        raise self.error("unterminated regular expression", start)

    def _number(self) -> None:
        text = self.query
        duration = _DURATION.match(text, self.pos)
        number = _NUMBER.match(text, self.pos)
        assert number is not None
        if duration and duration.end() > number.end():
            self._emit("duration", duration.group(), duration.end())
        else:
            self._emit("number", number.group(), number.end())

    def _operator(self) -> None:
        text = self.query
        for op in _OPERATORS + _PUNCTUATION:
            if text.startswith(op, self.pos):
                self._emit("op", op, self.pos + len(op))
                return
        raise self.error(f"unexpected character {text[self.pos]!r}", self.pos)

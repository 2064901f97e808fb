"""The Markdown helpers: text from alarms, logs and people stays text."""

from __future__ import annotations

from postmortem.markdown import (
    block,
    clean,
    code_block,
    code_span,
    inline,
    link,
    mermaid_text,
    safe_url,
    table,
)


def test_inline_escapes_markdown_and_html() -> None:
    assert inline("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert inline("[click](http://evil)") == "\\[click\\](http\\[:\\]//evil)"
    assert inline("![img](x.png)") == "!\\[img\\](x.png)"
    assert inline("a | b\nc") == "a \\| b c"
    assert inline("*bold* _it_ `code` # h ~~s~~ $x$") == (
        "\\*bold\\* \\_it\\_ \\`code\\` \\# h \\~\\~s\\~\\~ \\$x\\$"
    )
    assert inline("a & b &amp;") == "a &amp; b &amp;amp;"
    assert inline(None) == ""


def test_inline_cuts_long_text() -> None:
    assert inline("x" * 50, limit=10) == "x" * 9 + "…"


def test_invisible_and_direction_characters_are_removed() -> None:
    assert clean("a\u202eb\u200bc\x00d\te") == "abcd e"


def test_block_lines_cannot_start_lists_headings_or_setext_underlines() -> None:
    text = "line one\n# heading\n- item\n1. first\n===\n+ plus\n\n   2) two"
    assert block(text) == (
        "> line one\n> \\# heading\n> \\- item\n> \\1. first\n> \\===\n> \\+ plus\n> \\2) two"
    )
    assert block("") == "> (none)"


def test_code_span_fences_around_backticks_and_escapes_pipes_in_tables() -> None:
    assert code_span("plain") == "`plain`"
    assert code_span("a ` b") == "``a ` b``"
    assert code_span("``x``") == "``` ``x`` ```"
    assert code_span("a | b", in_table=True) == "`a \\| b`"
    assert code_span("a | b") == "`a | b`"
    assert code_span("line\nbreak") == "`line break`"
    assert code_span("") == "(empty)"


def test_code_block_fence_outlasts_any_backtick_run_inside() -> None:
    assert code_block("x = 1", "text") == "```text\nx = 1\n```"
    hostile = "```\n</pre><script>\n`````"
    assert code_block(hostile) == "``````\n```\n</pre><script>\n`````\n``````"


def test_links_keep_their_destination_inside_angle_brackets() -> None:
    assert link("the [alarm]", "https://x.example/a b>c") == (
        "[the \\[alarm\\]](<https://x.example/a%20b%3Ec>)"
    )
    assert safe_url('https://x/"<\n>') == "https://x/%22%3C%3E"


def test_table_fills_empty_cells() -> None:
    assert table(["a", "b"], [["1", ""]]) == "| a | b |\n|---|---|\n| 1 |   |"


def test_mermaid_text_keeps_a_safe_alphabet() -> None:
    assert mermaid_text("Resolved: by <b>op</b>; %%{init}%% ```\nsection X #1") == (
        "Resolved by b op /b init section X 1"
    )
    assert (
        mermaid_text("section Evil :crit, 2024-01-01, 1d")
        == "event section Evil crit 2024-01-01 1d"
    )
    assert mermaid_text("Title x") == "event Title x"
    assert mermaid_text("::::") == "event"
    assert len(mermaid_text("x" * 100, 40)) == 40

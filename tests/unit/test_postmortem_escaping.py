"""Nothing from an alarm, a log line or a person can change the document's structure: no raw
HTML, no links or images of its own (Markdown links or GFM autolinks of bare URLs), no headings
or list items, no broken table, no code block closed early, no Mermaid statement. Checked on the
hostile cases and on arbitrary text."""

from __future__ import annotations

import re
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from postmortem.markdown import block, inline, link
from postmortem.render import render

from .test_postmortem_cases import (
    HOSTILE_DESCRIPTION,
    HOSTILE_LOG_LINE,
    MERMAID_BREAKER,
    full_case,
    partial_case,
    unresolved_case,
)

OWN_HEADINGS = re.compile(
    r"^(# Postmortem: .*|## (Summary|Timeline|Figures|Graphs|Diagnostics|Action items|"
    r"AWS support case \(draft\)|What the runbook could not find out)|### .+)$"
)
FENCE = re.compile(r"^(`{3,})(.*)$")
LINK_DESTINATION = re.compile(r"\]\(<https://[^<>\s]*>\)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
GANTT_STATEMENT = re.compile(
    r"^(gantt|    title [A-Za-z0-9 ._/+=@()-]+|    dateFormat YYYY-MM-DD HH:mm:ss"
    r"|    axisFormat %H:%M|    section [A-Za-z ]+"
    r"|    [A-Za-z0-9 ._/+=@-]+ :(milestone|done|crit), [mrw]\d+, [0-9: -]+, [0-9: -s]+)$"
)


# What GFM's autolink extension would link in the text a reader sees (escapes resolved, code
# spans gone): a URL scheme anywhere, `www.` not inside a word, an e-mail address. Stricter
# than cmark-gfm, which also wants a valid domain after it.
GFM_AUTOLINK = re.compile(
    r"(?i)(?:https?|ftp)://|(?<![a-z0-9])www\.|[a-z0-9._+-]@[a-z0-9_-]+\.[a-z0-9]"
)
_RUN = re.compile(r"`+")


def _text_outside_code(line: str) -> str:
    """The line as GFM's inline parser leaves it for the autolink extension: code spans
    dropped (a backtick run up to the next run of the same length), backslash escapes of
    punctuation resolved."""
    out: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] in string.punctuation:
            out.append(line[i + 1])
            i += 2
            continue
        run = _RUN.match(line, i)
        if run is None:
            out.append(line[i])
            i += 1
            continue
        closing = re.compile(rf"(?<!`){run.group()}(?!`)").search(line, run.end())
        out.append(" " if closing else run.group())
        i = closing.end() if closing else run.end()
    return "".join(out)


def _unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


def check_structure(text: str) -> None:
    """Fail if the Markdown has any structure this code did not write."""
    fence = ""
    language = ""
    table_columns = 0
    for number, line in enumerate(text.splitlines(), 1):
        where = f"line {number}: {line!r}"
        if fence:
            if line.startswith(fence) and not line[len(fence) :].strip("`").strip():
                assert line == fence, where
                fence = ""
            elif language == "mermaid":
                assert GANTT_STATEMENT.match(line), where
            continue
        opened = FENCE.match(line)
        if opened:
            fence, language = opened.group(1), opened.group(2)
            assert language in ("", "text", "mermaid"), where
            continue
        prose = _CODE_SPAN.sub("", LINK_DESTINATION.sub("]", line.removeprefix("> ")))
        assert "<" not in prose and ">" not in prose.replace("&gt;", ""), where
        bare = _CODE_SPAN.sub("", line).replace("](metric.png)", "")
        assert not re.search(r"(?<!\\)\]\((?!<https://)", bare), where
        # Our own links' destinations aside, no bare URL a renderer would turn into a link.
        assert not GFM_AUTOLINK.search(_text_outside_code(LINK_DESTINATION.sub("]", line))), where
        if line.startswith("#"):
            assert OWN_HEADINGS.match(line), where
        if line.startswith("|"):
            columns = _unescaped_pipes(line)
            if table_columns == 0:
                table_columns = columns
            assert columns == table_columns, where
        else:
            table_columns = 0
        assert not re.match(r"^\s*(\\?[-+*]|\d+[.)])\s+\[[ x]\]", line) or line.startswith(
            "- What"
        ), where
    assert not fence, "a code block was left open"


def test_hostile_cases_render_as_text() -> None:
    for case in (full_case(), partial_case(), unresolved_case()):
        text = render(case).markdown
        check_structure(text)
        for raw in ("<script>", "<img", "<iframe", "<b>bold</b>", "[phish](http", "</details>"):
            outside_code = re.sub(r"(?ms)^(`{3,})[a-z]*$.*?^\1$", "", text)
            outside_code = _CODE_SPAN.sub("", outside_code)
            assert raw not in outside_code, (raw, case)


def test_hostile_alarm_description_is_quoted_and_escaped() -> None:
    text = render(full_case()).markdown
    assert (
        "> &lt;script&gt;alert(1)&lt;/script&gt; \\[phish\\](http\\[:\\]//evil.example) \\| fake"
        in text
    )
    assert "> \\# Fake heading" in text
    assert "> \\- \\[ \\] fake task" in text
    assert "> \\===" in text


def test_hostile_log_lines_stay_inside_their_code() -> None:
    text = render(full_case()).markdown
    # In a sample block: a longer fence, so the line's own ``` cannot close it.
    assert "````text\nERROR ```\n## injected <b>bold</b>" in text
    # In a code span (the verdict's evidence): a longer backtick run.
    assert (
        "````ERROR ``` ## injected <b>bold</b> | x | `tick` $$math$$ "
        "[link](javascript:alert(3))````" in text
    )


def test_hostile_note_is_escaped_in_tables_and_the_summary() -> None:
    text = render(partial_case()).markdown
    assert "fixed it :) &lt;iframe src=evil&gt; \\*\\*bold\\*\\* \\`code\\` txt.exe" in text
    assert "\u202e" not in text


_CHARS = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",))
    | st.sampled_from(list("`|<>[]()#*_~$!\n-=:;%{}")),
    max_size=40,
)
# Pieces of bare URLs, so arbitrary text often holds one (random characters alone never do).
_URL_PIECES = st.sampled_from(
    ["https://", "http://", "HTTPS://", "ftp://", "www.", "WWW.", "_www.", "*www.", "(www.",
     "evil.example/login?a=1", "`", "\\"]
)  # fmt: skip
_TEXT = st.lists(_CHARS | _URL_PIECES, max_size=6).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=_TEXT, description=_TEXT, log_line=_TEXT, note=_TEXT, reason=_TEXT)
def test_any_text_from_outside_keeps_the_structure(
    title: str, description: str, log_line: str, note: str, reason: str
) -> None:
    full = full_case()
    evidence = dict(full.evidence or {})
    findings = [dict(f) for f in evidence["findings"]]
    findings[-1] = {**findings[-1], "summary": {**findings[-1]["summary"], "sample": [log_line]}}
    findings[-1]["message"] = reason
    evidence["findings"] = findings
    incident = replace(
        full.incident,
        **{"title": title or "t", "description": description, "resolution_note": note},
    )
    recovery = {**full.recovery, "note": note, "by": reason}
    response = {**full.response, "channel": {"status": "skipped", "reason": reason}}
    check_structure(
        render(
            replace(
                full, incident=incident, evidence=evidence, recovery=recovery, response=response
            )
        ).markdown
    )
    partial = partial_case()
    partial_response = {
        **partial.response,
        "diagnostics": {"status": "failed", "error": reason, "cause": log_line},
    }
    check_structure(render(replace(partial, response=partial_response)).markdown)


def test_the_checker_catches_injections() -> None:
    """The structure check itself fails on what escaping prevents."""
    for broken in (
        "# Postmortem: x\n<script>x</script>",
        "# Postmortem: x\n# Fake heading",
        "# Postmortem: x\n[phish](http://evil)",
        "# Postmortem: x\n| a | b |\n|---|---|\n| 1 | 2 | 3 |",
        "# Postmortem: x\n```\nopen",
        "# Postmortem: x\n```mermaid\ngantt\n    click m0 call evil()\n```",
        "# Postmortem: x\nsee https://evil.example/login",
        "# Postmortem: x\n> HTTP://evil.example",
        "# Postmortem: x\n| a | ftp://evil.example |",
        "# Postmortem: x\nwww.evil.example",
        "# Postmortem: x\nsee \\*www.evil.example",  # cmark-gfm links after an escaped `*`
        "# Postmortem: x\nhttps\\://evil.example",  # linkifiers that run on the text see it
        "# Postmortem: x\n`code` https://evil.example `more`",
        "# Postmortem: x\n[ours](<https://console.aws.amazon.com>) www.evil.example",
        "# Postmortem: x\nwrite to ops@evil.example",
        "# Postmortem: x\n| a | mailto:x.y+z@evil.example |",
    ):
        try:
            check_structure(broken)
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {broken!r}")
    assert HOSTILE_DESCRIPTION and HOSTILE_LOG_LINE and MERMAID_BREAKER


def test_the_checker_lets_defanged_urls_code_and_our_own_links_through() -> None:
    check_structure(
        "# Postmortem: x\n"
        "see https\\[:\\]//evil.example and www\\[.\\]evil.example, awww.example\n"
        "ops\\[@\\]evil.example, fields @timestamp, a@b\n"
        "`https://in.code.example` · ``www.in.code `x` example``\n"
        "[the alarm](<https://eu-central-1.console.aws.amazon.com/cloudwatch/home#alarmsV2:>)"
    )


def test_bare_urls_are_defanged_but_readable() -> None:
    assert inline("see https://evil.example/login now") == (
        "see https\\[:\\]//evil.example/login now"
    )
    assert inline("HTTP://a.example ftp://b.example") == (
        "HTTP\\[:\\]//a.example ftp\\[:\\]//b.example"
    )
    assert inline("www.evil.example (www.b.example) _www.c.example") == (
        "www\\[.\\]evil.example (www\\[.\\]b.example) \\_www\\[.\\]c.example"
    )
    # Inside a word GFM links no `www.`: left as it is.
    assert inline("awww.example") == "awww.example"
    assert block("first\nhttps://evil.example") == "> first\n> https\\[:\\]//evil.example"
    # E-mail addresses (GFM links them, with or without mailto:); a query's @field is no address.
    assert inline("by operator:ops.lead+pager@evil.example") == (
        "by operator:ops.lead+pager\\[@\\]evil.example"
    )
    assert inline("mailto:a@b.example") == "mailto:a\\[@\\]b.example"
    assert inline("fields @timestamp, a@localhost") == "fields @timestamp, a@localhost"
    # The runbook's own links keep their destination; only their text is escaped.
    assert link("https://x.example", "https://console.aws.amazon.com/a") == (
        "[https\\[:\\]//x.example](<https://console.aws.amazon.com/a>)"
    )


def test_bare_urls_from_outside_render_as_text_and_console_links_still_work() -> None:
    url = "https://evil.example/login"
    full = full_case()
    evidence = dict(full.evidence or {})
    findings = [dict(f) for f in evidence["findings"]]
    findings[0] = {**findings[0], "message": f"see {url}"}
    evidence["findings"] = findings
    incident = replace(
        full.incident,
        **{"title": f"down, see {url}", "description": f"Runbook: www.evil.example\n{url}"},
    )
    recovery = {**full.recovery, "by": f"operator:{url}"}
    text = render(replace(full, incident=incident, evidence=evidence, recovery=recovery)).markdown
    check_structure(text)
    assert "# Postmortem: down, see https\\[:\\]//evil.example/login" in text
    assert "> Runbook: www\\[.\\]evil.example\n> https\\[:\\]//evil.example/login" in text
    assert "| see https\\[:\\]//evil.example/login |" in text
    # Console deep links are links still: the execution, the alarm, Logs Insights, X-Ray.
    assert "[the execution](<https://eu-central-1.console.aws.amazon.com/states/" in text
    assert "[the alarm](<https://eu-central-1.console.aws.amazon.com/cloudwatch/" in text
    assert "[open in Logs Insights](<https://eu-central-1.console.aws.amazon.com/" in text
    assert "[open the traces](<https://eu-central-1.console.aws.amazon.com/" in text

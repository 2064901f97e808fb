"""Text for Slack: user-controlled strings (alarm names, descriptions) escaped for mrkdwn, and
cut to Block Kit's limits without breaking an escape in half."""

from __future__ import annotations

import html
import re

ELLIPSIS = "…"
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


def escape(text: str) -> str:
    """Slack's control characters (&, <, >) as entities, so `<!channel>` or `<http://x|y>` in
    an alarm description is shown, not obeyed: exactly the standard library's HTML escape
    without quotes (Slack leaves quotes alone)."""
    return html.escape(text, quote=False)


def unescape(text: str) -> str:
    """The inverse of `escape` (tests, and reading back text Slack echoes)."""
    return html.unescape(text)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, ending in an ellipsis when cut; never ends inside an
    entity such as `&amp;` (that would show as raw text)."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - len(ELLIPSIS))]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + ELLIPSIS


def link(url: str, label: str) -> str:
    """`<url|label>`; the label is escaped, the url must not carry `|` or `>` (ours do not)."""
    safe_url = url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
    return f"<{safe_url}|{escape(label)}>"


def who(by: str) -> str:
    """A Slack user id as a mention (`<@U123>`), anything else escaped as plain text."""
    return f"<@{by}>" if _USER_ID.fullmatch(by) else escape(by)

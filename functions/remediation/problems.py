"""A mistake in the `remediation` section, named by its field path relative to the section
(`rules[0].parameters.InstanceIds`), so the response-file loader can map it to a file line."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class Problem(msgspec.Struct, frozen=True):
    """One mistake: where (`rules[0].match.domain`, empty for the section itself) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def join(*parts: str | int) -> str:
    """A field path from its parts: `join("rules", 0, "match")` is `rules[0].match`."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part:
            path = f"{path}.{part}" if path else part
    return path


def under(prefix: str, problems: Iterable[Problem]) -> list[Problem]:
    """The problems of a nested value, with their paths below `prefix`."""
    placed = []
    for problem in problems:
        if not problem.path:
            path = prefix
        elif problem.path.startswith("["):
            path = prefix + problem.path
        else:
            path = join(prefix, problem.path)
        placed.append(Problem(path, problem.message))
    return placed


class RemediationConfigError(ValueError):
    """The section has mistakes; `problems` lists every one found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        listed = "; ".join(str(p) for p in problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        super().__init__(f"remediation: {listed}{more}")

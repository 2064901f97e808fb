"""What an import could not carry over, approximated, renamed or left for a person to do.

Each note is one line an operator can act on. They are printed by the command and written at
the top of the generated file, so a reviewer of the pull request that adds the file sees them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# In the order they are shown: losses first, renames (harmless) last.
NOT_CARRIED = "not carried over"
APPROXIMATED = "approximated"
REVIEW = "review"
RENAMED = "renamed"
KINDS = (NOT_CARRIED, APPROXIMATED, REVIEW, RENAMED)


@dataclass(frozen=True)
class Note:
    kind: str
    subject: str  # what it is about, as the operator knows it: "contact akuam", "rotation Primary"
    text: str

    def line(self) -> str:
        return f"{self.kind}: {self.subject}: {self.text}"

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "text": self.text}


@dataclass
class Notes:
    """Collects notes; `sorted()` gives them in a stable order whatever order they came in."""

    _notes: set[Note] = field(default_factory=set)

    def add(self, kind: str, subject: str, text: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown note kind {kind!r}")
        if "\n" in subject or "\n" in text:
            raise ValueError("a note is one line")
        self._notes.add(Note(kind, subject, text))

    def not_carried(self, subject: str, text: str) -> None:
        self.add(NOT_CARRIED, subject, text)

    def approximated(self, subject: str, text: str) -> None:
        self.add(APPROXIMATED, subject, text)

    def review(self, subject: str, text: str) -> None:
        self.add(REVIEW, subject, text)

    def renamed(self, subject: str, text: str) -> None:
        self.add(RENAMED, subject, text)

    def sorted(self) -> list[Note]:
        return sorted(self._notes, key=lambda n: (KINDS.index(n.kind), n.subject, n.text))

    def __len__(self) -> int:
        return len(self._notes)

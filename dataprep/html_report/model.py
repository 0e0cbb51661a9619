"""What a report section holds: data only, no HTML (the page module writes and escapes it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Card:
    """One file shown in a gallery: its thumbnail, its path, its class and why it is shown."""

    path: str  # relative to the dataset root, POSIX
    label: str | None  # class folder (with its split folder in a split layout)
    detail: str
    severity: str | None = None  # error | warning | info, or None for judgments without one
    badge: str | None = None  # a short tag drawn on the card (a duplicate's kind, "given -> suggested")


@dataclass(frozen=True)
class CardGroup:
    """Files shown side by side (a duplicate group), with what ties them together."""

    title: str
    cards: list[Card]
    leak: str | None = None  # "train, test": the splits a duplicate group crosses


@dataclass(frozen=True)
class Command:
    """A command that acts on a section, and what it does."""

    argv: list[str]
    does: str


@dataclass
class Chart:
    """An inline SVG chart (built from escaped text only: `dataprep.html_report.charts`)."""

    title: str
    svg: str


@dataclass
class Section:
    """One section of the page. A gallery has `cards`; a group section has `groups`; the summary
    has `tables` and `charts`. `note` says what is missing and how to get it."""

    id: str
    title: str
    description: str
    severity: str | None = None
    cards: list[Card] = field(default_factory=list)
    groups: list[CardGroup] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    tables: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)  # (title, rows)
    charts: list[Chart] = field(default_factory=list)
    note: str | None = None

    @property
    def count(self) -> int:
        return len(self.cards) + len(self.groups)

    def describe(self, shown: int, pages: int) -> dict[str, Any]:
        """This section in the `--json` document."""
        return {"id": self.id, "title": self.title, "count": self.count, "shown": shown, "pages": pages}

"""The one result schema every check produces: a Finding is data, never an exception."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any


class Severity(str, Enum):
    """How bad a finding is. Ordered: info < warning < error."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __ge__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:  # type: ignore[override]
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}

SEVERITY_NAMES = tuple(s.value for s in Severity)


def parse_severity(value: str, *, allow_never: bool = False) -> Severity | None:
    """Parse 'error'/'warning'/'info' (and 'never' -> None when allowed)."""
    from dataprep.base.errors import DataprepError

    if allow_never and value == "never":
        return None
    try:
        return Severity(value)
    except ValueError:
        accepted = "|".join(SEVERITY_NAMES + (("never",) if allow_never else ()))
        raise DataprepError(f"unknown severity {value!r}; expected one of {accepted}") from None


@dataclass(frozen=True, order=True)
class Finding:
    """One thing a check found about one file. `path` is relative to the scanned root, POSIX."""

    path: str
    check: str
    severity: Severity
    detail: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        return cls(path=d["path"], check=d["check"], severity=Severity(d["severity"]), detail=d["detail"])

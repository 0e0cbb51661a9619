"""The Report model: one FileResult per file, and writers for JSON and CSV.

Only data and serialisation here; the CLI renders the rich table.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep.base.findings import Finding, Severity
from dataprep.inspection.scan import Scan

REPORT_VERSION = 1


@dataclass
class FileResult:
    """Everything validate learned about one file. `rel` is relative to the scanned root."""

    rel: str
    size: int
    mtime_ns: int
    sha256: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    mode: str | None = None
    frames: int = 1
    findings: list[Finding] = field(default_factory=list)
    # From the same decode as the checks (dataprep.inspection.checks.image_properties); None when not decoded.
    phash: str | None = None
    dhash: str | None = None
    pixel_hash: str | None = None
    signature: str | None = None  # near-duplicate evidence: dataprep.inspection.checks.image_properties.NearSignature
    properties: dict[str, float] = field(default_factory=dict)

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None, key=lambda s: s.rank)

    def to_cache(self) -> dict[str, Any]:
        """Serialisable form without the root-relative path (the cache is keyed by absolute path)."""
        return {
            "size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256, "format": self.format,
            "width": self.width, "height": self.height, "mode": self.mode, "frames": self.frames,
            "findings": [[f.check, f.severity.value, f.detail] for f in self.findings],
            "phash": self.phash, "dhash": self.dhash, "pixel_hash": self.pixel_hash, "properties": self.properties,
            "signature": self.signature,
        }  # fmt: skip

    @classmethod
    def from_cache(cls, rel: str, d: dict[str, Any]) -> FileResult:
        findings = [Finding(rel, check, Severity(sev), detail) for check, sev, detail in d["findings"]]
        fields = {k: d[k] for k in ("size", "mtime_ns", "sha256", "format", "width", "height", "mode", "frames")}
        return cls(
            rel=rel, findings=findings, phash=d.get("phash"), dhash=d.get("dhash"), pixel_hash=d.get("pixel_hash"),
            signature=d.get("signature"), properties=dict(d.get("properties") or {}), **fields,
        )  # fmt: skip


@dataclass
class ValidateSummary:
    """What `validate`'s summary shows, from the in-memory Report or a streamed one."""

    root: Path
    files: int
    images: int
    junk: int
    seconds: float
    cached: int
    has_findings: bool
    counts: dict[str, int]  # files by worst severity
    checks: dict[str, dict[str, Any]]  # counts_by_check()
    bad_files: int  # files whose worst finding is a warning or an error
    worst_files: list[FileResult]  # the first of them: errors first, then by path


@dataclass
class Report:
    """The result of validating a folder."""

    root: Path
    scan: Scan
    results: list[FileResult]
    cached: int = 0
    inspected: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        self._by_rel = {r.rel: r for r in self.results}

    def result(self, rel: str) -> FileResult | None:
        return self._by_rel.get(rel)

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.results for f in r.findings]

    def files_at_or_above(self, level: Severity) -> list[FileResult]:
        """Files whose worst finding is at least `level`."""
        return [r for r in self.results if (w := r.worst) is not None and w >= level]

    def has_findings_at_or_above(self, level: Severity | None) -> bool:
        return level is not None and bool(self.files_at_or_above(level))

    def counts_by_severity(self) -> dict[str, int]:
        """How many files have each severity as their worst finding."""
        counts = Counter(w.value for r in self.results if (w := r.worst) is not None)
        return {s.value: counts.get(s.value, 0) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}

    def counts_by_check(self) -> dict[str, dict[str, Any]]:
        """Per check: its severity and how many files it flagged."""
        out: dict[str, dict[str, Any]] = {}
        per: dict[str, set[str]] = defaultdict(set)
        for f in self.findings:
            per[f.check].add(f.path)
            out.setdefault(f.check, {"severity": f.severity.value, "files": 0})
        for check, paths in per.items():
            out[check]["files"] = len(paths)
        order = sorted(out, key=lambda c: (-Severity(out[c]["severity"]).rank, -out[c]["files"], c))
        return {c: out[c] for c in order}

    def summary(self, worst: int = 15) -> ValidateSummary:
        bad = sorted(self.files_at_or_above(Severity.WARNING), key=lambda r: (-(r.worst.rank if r.worst else 0), r.rel))
        return ValidateSummary(
            root=self.root, files=len(self.results), images=len(self.scan.images), junk=len(self.scan.junk),
            seconds=self.seconds, cached=self.cached, has_findings=bool(self.findings),
            counts=self.counts_by_severity(), checks=self.counts_by_check(), bad_files=len(bad), worst_files=bad[:worst],
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "root": str(self.root),
            "files": len(self.results),
            "images": len(self.scan.images),
            "junk": len(self.scan.junk),
            "files_by_worst_severity": self.counts_by_severity(),
            "checks": self.counts_by_check(),
            "findings": [f.to_dict() for f in self.findings],
            "cache": {"reused": self.cached, "inspected": self.inspected},
            "seconds": round(self.seconds, 3),
        }

    def to_csv(self) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["path", "check", "severity", "detail"])
        for f in self.findings:
            writer.writerow([f.path, f.check, f.severity.value, f.detail])
        return buf.getvalue()

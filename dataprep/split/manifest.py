"""`SplitManifest`: the one reader and writer of ``OUT/split.json``.

split.json is the record of a split (and, while a split is unfinished, its intent record): the
RAW folder, mode, seed and spec it was made with, the class index, every file's source,
destination, split, class, size and sha256 (and fold, when folds were planned), the duplicate
groups, what was left out and why, and the warnings. `split` writes it, `--resume` and
`--force` read it back, the callers of `scan` learn where a symlink split points (`link_targets`), `trainer` reads the class
index. No other code opens the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataprep import __version__
from dataprep.base.errors import DataprepError
from dataprep.base.journal import json_text_bytes, write_atomic
from dataprep.base.naming import natural_key
from dataprep.split.plan import Assignment, Excluded, SplitPlan
from dataprep.split.spec import SplitSpec

SPLIT_JSON = "split.json"
SPLIT_JSON_VERSION = 1


@dataclass
class SplitManifest:
    """The content of split.json. `excluded` holds every file left out (RAW's junk and invalid
    files, and the plan's unused ones); `folds` maps a file's source path to its fold (0..k-1)."""

    raw: str
    mode: str
    plan: SplitPlan
    include_invalid: bool = False
    excluded: list[Excluded] = field(default_factory=list)
    complete: bool = False
    replacing: list[str] = field(default_factory=list)  # files of a previous split still to remove (--force)
    folds: dict[str, int] | None = None
    k: int | None = None
    created_by: str = f"dataprep {__version__}"

    @property
    def digest(self) -> str:
        return self.plan.digest()

    def records(self) -> dict[str, dict[str, Any]]:
        """Destination (relative to OUT) -> its file record; `replacing` entries have no source."""
        out = {a.dest: a.to_dict() for a in self.plan.assignments}
        out.update({p: {"path": p, "source": None} for p in self.replacing})
        return out

    def to_dict(self) -> dict[str, Any]:
        plan = self.plan
        files = [a.to_dict() for a in plan.assignments]
        if self.folds is not None:
            for record in files:
                record["fold"] = self.folds.get(record["source"])
        doc: dict[str, Any] = {
            "version": SPLIT_JSON_VERSION,
            "complete": self.complete,
            "created_by": self.created_by,
            "raw": self.raw,
            "mode": self.mode,
            "seed": plan.seed,
            "spec": plan.spec.to_dict(),
            "include_invalid": self.include_invalid,
            "class_names": sorted(plan.classes),
            "class_index": plan.class_index,
            "counts": plan.counts(),
            "digest": plan.digest(),
            "files": files,
            "duplicate_groups": plan.duplicate_groups,
            "excluded": [e.to_dict() for e in self.excluded],
            "warnings": plan.warnings,
        }
        if self.k is not None:
            doc["k"] = self.k
        if self.replacing:
            doc["replacing"] = self.replacing
        return doc

    def to_bytes(self) -> bytes:
        """split.json text: one key per line, and one line per file in the long lists.

        Readable and diff-friendly (a file's record is one line), and fast: each value goes through
        the C JSON encoder, which `json.dumps(indent=...)` would bypass (25k files: seconds).
        """
        doc = self.to_dict()
        lines = []
        keys = list(doc)
        for i, key in enumerate(keys):
            value = doc[key]
            comma = "," if i < len(keys) - 1 else ""
            if isinstance(value, list) and value:
                inner = ",\n".join("    " + json.dumps(item, ensure_ascii=False) for item in value)
                lines.append(f"  {json.dumps(key)}: [\n{inner}\n  ]{comma}")
            else:
                lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
        return json_text_bytes("{\n" + "\n".join(lines) + "\n}\n")

    def write(self, out: Path) -> Path:
        """Write OUT/split.json atomically (temporary name, fsync, rename)."""
        path = out / SPLIT_JSON
        write_atomic(path, self.to_bytes())
        return path

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SplitManifest:
        assignments = [Assignment.from_dict(d) for d in doc["files"]]
        classes = sorted({a.label for a in assignments} | set(doc.get("class_names", [])), key=natural_key)
        plan = SplitPlan(
            seed=doc["seed"], spec=SplitSpec.from_dict(doc["spec"]), classes=classes, assignments=assignments,
            duplicate_groups=doc.get("duplicate_groups", []), warnings=doc.get("warnings", []),
        )  # fmt: skip
        folds = {d["source"]: d["fold"] for d in doc["files"] if d.get("fold") is not None} if "k" in doc else None
        return cls(
            raw=doc.get("raw", ""), mode=doc.get("mode", ""), plan=plan, include_invalid=doc.get("include_invalid", False),
            excluded=[Excluded(e["path"], e["reason"]) for e in doc.get("excluded", [])], complete=doc.get("complete", False),
            replacing=list(doc.get("replacing", [])), folds=folds, k=doc.get("k"),
            created_by=doc.get("created_by", ""),
        )  # fmt: skip

    @classmethod
    def read(cls, out: Path) -> SplitManifest | None:
        """OUT/split.json, None when absent; a clear error when it is not ours or damaged."""
        path = out / SPLIT_JSON
        if not path.exists():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataprepError(
                f"cannot read '{path}' ({err}); expected the split.json a dataprep split wrote"
            ) from None
        if not isinstance(doc, dict) or "files" not in doc or "digest" not in doc:
            raise DataprepError(f"'{path}' is not a dataprep split manifest; choose another OUT folder")
        try:
            return cls.from_dict(doc)
        except (KeyError, TypeError, ValueError, DataprepError) as err:
            raise DataprepError(
                f"'{path}' is damaged ({type(err).__name__}: {err}); start over with --force or choose another OUT"
            ) from None

    @staticmethod
    def class_names(base: Path) -> list[str] | None:
        """The class index a split folder's split.json records (None without split.json): what
        training must use, so that label numbers match the split. Only `class_names` is needed."""
        path = base / SPLIT_JSON
        if not path.is_file():
            return None
        try:
            classes = json.loads(path.read_text(encoding="utf-8"))["class_names"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DataprepError(
                f"unreadable split manifest '{path}': {err} (expected JSON with a 'class_names' list); "
                "re-run 'dataprep split' or delete split.json to use folder names"
            ) from None
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise DataprepError(f"'class_names' in '{path}' is not a list of names; re-run 'dataprep split'")
        return list(classes)

    @staticmethod
    def linked_raw(base: Path) -> Path | None:
        """RAW, when `base` holds a split made with ``--mode symlink`` (its links point there);
        None otherwise or when split.json cannot be read (then no link out of `base` is trusted)."""
        path = base / SPLIT_JSON
        if not path.is_file():
            return None
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("mode") != "symlink" or not isinstance(doc.get("raw"), str):
            return None
        try:
            return Path(doc["raw"]).resolve()
        except OSError:
            return None


def link_targets(root: str | os.PathLike[str]) -> list[Path]:
    """The folders outside `root` its links may point into, for `scan`'s `trusted`: RAW when `root`
    holds a split made with ``--mode symlink`` (dataprep wrote those links, so following them out of
    OUT is expected); none otherwise."""
    raw = SplitManifest.linked_raw(Path(root).expanduser())
    return [] if raw is None else [raw]

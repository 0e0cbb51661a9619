"""Names the folder walker and the split share: the split roles and their common folder names, and
natural order. Below both `dataprep.inspection.scan` and `dataprep.split`, so neither reaches into the other."""

from __future__ import annotations

import re

# The folders `dataprep split` writes, one per role.
SPLIT_NAMES = ("train", "val", "test")
# Every name a split folder of each role has in datasets people download.
SPLIT_ROLES: dict[str, tuple[str, ...]] = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation", "dev"),
    "test": ("test", "testing"),
}
_ROLE_OF = {name: role for role, names in SPLIT_ROLES.items() for name in names}


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders embedded numbers numerically: cat2.jpg < cat10.jpg."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in re.split(r"(\d+)", text) if part)


def natural_sort_bytes(text: str) -> bytes:
    """`natural_key(text)` as bytes that sort the same way (memcmp: SQLite's ORDER BY on a
    BLOB), so a store on disk can list millions of paths in natural order."""
    out = bytearray()
    for part in re.split(r"(\d+)", text):
        if not part:
            continue
        if part.isdigit():
            digits = str(int(part))  # numbers: by length first, then digit by digit
            out += b"\x01" + len(digits).to_bytes(4, "big") + digits.encode("ascii")
        else:  # text: its code points (UTF-8 keeps their order), ended below any of them
            out += b"\x02" + part.lower().encode("utf-8", "surrogatepass") + b"\x00"
    return bytes(out)


def split_role(name: str) -> str | None:
    """The role ('train', 'val', 'test') a folder name plays in a split layout, or None."""
    return _ROLE_OF.get(name.lower())

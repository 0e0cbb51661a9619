"""Do two checkouts of dataprep report the same findings? `validate --json` and `duplicates --json`
on one folder, run from each checkout with its own empty cache, compared file for file.

    python scripts/findings_diff.py BASELINE_CHECKOUT DATA_DIR [--out DIR]

BASELINE_CHECKOUT is a copy of the repository at another commit (e.g. `git archive main | tar -x -C
/tmp/base`); the other side is this checkout. Timings and cache counts are left out of the
comparison (they differ from run to run); everything else must be equal. Exit 0 when identical,
1 with the first differences listed otherwise.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent.parent
VOLATILE = ("seconds", "cache")  # run-dependent keys of the reports


def dump(checkout: Path, command: str, data: Path, cache: Path) -> dict[str, Any]:
    """`dataprep COMMAND DATA --json` run with `checkout`'s code (first on the import path)."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, "-m", "dataprep", command, str(data), "--json", "--cache-dir", str(cache)],
        cwd=checkout, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode not in (0, 1):  # 1: validate found errors
        raise SystemExit(f"{command} from {checkout} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    report = json.loads(done.stdout)
    return {k: v for k, v in report.items() if k not in VOLATILE and k != "root"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", type=Path)
    parser.add_argument("data", type=Path)
    parser.add_argument("--out", type=Path, help="Also write each side's reports here.")
    args = parser.parse_args()
    same = True
    with tempfile.TemporaryDirectory(prefix="findings-diff-") as tmp:
        for command in ("validate", "duplicates"):
            sides = {}
            for name, checkout in (("baseline", args.baseline.resolve()), ("this", HERE)):
                sides[name] = dump(checkout, command, args.data.resolve(), Path(tmp) / name)
                if args.out is not None:
                    args.out.mkdir(parents=True, exist_ok=True)
                    (args.out / f"{command}-{name}.json").write_text(json.dumps(sides[name], indent=2) + "\n")
            a, b = (json.dumps(sides[n], indent=2, sort_keys=True).splitlines() for n in ("baseline", "this"))
            if a == b:
                count = len(sides["this"].get("findings", sides["this"].get("groups", [])))
                print(f"{command}: identical ({count} findings/groups)")
                continue
            same = False
            print(f"{command}: DIFFERENT")
            sys.stdout.writelines(
                line + "\n" for line in list(difflib.unified_diff(a, b, "baseline", "this", n=1))[:80]
            )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())

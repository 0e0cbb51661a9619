"""The report's sections: one small function per section, one row per function in `SECTIONS`.

A section function takes the gathered `ReportInputs` and returns its sections (the informational
checks return one per check that found something). Adding a judgment to the report is one
function here and one row in the table; the page writes every section the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dataprep.actions.clean import kept_copy
from dataprep.base.errors import DataprepError
from dataprep.base.findings import Severity
from dataprep.duplicates.search import find_leaks
from dataprep.html_report.charts import class_balance_chart, image_size_chart
from dataprep.html_report.inputs import ReportInputs
from dataprep.html_report.model import Card, CardGroup, Command, Section
from dataprep.inspection.checks import CHECKS
from dataprep.inspection.checks.names import Check

SUMMARIES = {c.name: c.summary for c in CHECKS}


def _dp(*args: str | Path) -> list[str]:
    return ["dataprep", *(str(a) for a in args)]


def _convert_plan(inp: ReportInputs) -> tuple[dict[str, str], str | None]:
    """What `dataprep convert` would do to each file (rel -> what and why), or why it cannot say."""
    from dataprep.actions.convert_plan import ConvertOptions, plan_conversions

    if "convert" not in inp.memo:
        try:
            planned, _, refused = plan_conversions(inp.report, ConvertOptions(dry_run=True))
            fixes = {c.rel: f"→ {c.target}: {'; '.join(c.why)}" for c in planned}
            fixes.update({rel: f"refused, damaged: {why}" for rel, why in refused})
            inp.memo["convert"] = (fixes, None)
        except DataprepError as err:
            inp.memo["convert"] = ({}, str(err))
    plan: tuple[dict[str, str], str | None] = inp.memo["convert"]
    return plan


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


def _file_cards(inp: ReportInputs, level: Severity) -> list[Card]:
    """One card per file whose worst finding is `level`, listing all its findings."""
    cards = []
    for r in inp.report.results:
        if r.worst is level:
            checks = " · ".join(dict.fromkeys(f.check for f in r.findings if f.severity >= Severity.WARNING))
            detail = "\n".join(f"{f.check}: {f.detail}" for f in r.findings)
            cards.append(Card(r.rel, inp.label(r.rel), detail, level.value, badge=checks))
    return cards


def _severity_section(inp: ReportInputs, level: Severity) -> list[Section]:
    cards = _file_cards(inp, level)
    plan, _ = _convert_plan(inp)
    fixable = sum(1 for c in cards if c.path in plan)
    commands = []
    if fixable:
        commands.append(Command(_dp("convert", inp.root, "--dry-run"),
                                f"{fixable} of them convert can fix instead (see 'convert fixes')"))  # fmt: skip
    if level is Severity.ERROR:
        commands.append(Command(_dp("clean", inp.root, "--dry-run"), "quarantine every file with an error, and junk"))
        what = "Files the training decoder cannot read, or would read as wrong pixels, and junk."
    else:
        commands.append(Command(_dp("clean", inp.root, "--level", "warning", "--dry-run"),
                                "quarantine every file with a warning or an error"))  # fmt: skip
        what = "Files that decode but are damaged (truncated, corrupt data), too small, rotated, or junk."
    title = "errors" if level is Severity.ERROR else "warnings"
    return [Section(title, title, f"{what} Each file once, with all its findings.", level.value, cards=cards,
                    commands=commands)]  # fmt: skip


def error_section(inp: ReportInputs) -> list[Section]:
    """Every file whose worst finding is an error."""
    return _severity_section(inp, Severity.ERROR)


def warning_section(inp: ReportInputs) -> list[Section]:
    """Every file whose worst finding is a warning."""
    return _severity_section(inp, Severity.WARNING)


def convert_section(inp: ReportInputs) -> list[Section]:
    """What `dataprep convert` would re-encode or rename, and why."""
    plan, problem = _convert_plan(inp)
    cards = [Card(rel, inp.label(rel), why) for rel, why in plan.items()]
    commands = [Command(_dp("convert", inp.root, "--dry-run"), "re-encode or rename them so TensorFlow reads the "
                        "right pixels; the originals go to the quarantine (restore undoes it)")]  # fmt: skip
    description = "Formats TensorFlow cannot read or reads wrongly, EXIF rotations, lying extensions: fixable in place."
    return [Section("convert", "convert fixes", description, cards=cards, commands=commands, note=problem)]


def info_sections(inp: ReportInputs) -> list[Section]:
    """One gallery per informational check (image quality, colour modes, ...) that found something."""
    by_check: dict[str, list[Card]] = {}
    for f in inp.report.findings:
        if f.severity is Severity.INFO:
            by_check.setdefault(f.check, []).append(Card(f.path, inp.label(f.path), f.detail, f.severity.value))
    out = []
    for check, counts in inp.report.counts_by_check().items():
        if check not in by_check:
            continue
        commands = check_commands(check, inp.root)
        note = None if commands else "Information only: no command removes these. Look, and decide."
        out.append(Section(f"check-{check}", check, SUMMARIES.get(check, check), counts["severity"],
                           cards=by_check[check], commands=commands, note=note))  # fmt: skip
    return out


def check_commands(check: str, root: Path) -> list[Command]:
    """The commands that act on the files an informational check flagged (each a dry run first)."""
    if check == Check.EXTENSION_MISMATCH:
        return [Command(_dp("convert", root, "--dry-run"), "rename them to their real format")]
    if check == Check.ANIMATED:
        return [Command(_dp("convert", root, "--first-frame", "--dry-run"), "keep only the first frame")]
    if check == Check.DUPLICATE:
        return [Command(_dp("clean", root, "--duplicates", "--dry-run"), "quarantine every extra copy")]
    return []


def duplicate_section(inp: ReportInputs) -> list[Section]:
    """Duplicate groups side by side, groups that cross splits first and marked."""
    leaks = {tuple(leak.paths): ", ".join(leak.splits) for leak in find_leaks(inp.groups)}
    groups = []
    for g in inp.groups:
        members = [r for p in g.paths if (r := inp.report.result(p)) is not None]
        staying = [r for r in members if r.worst is None or r.worst < Severity.ERROR]
        keep = kept_copy(staying).rel if staying else g.members[0].path
        cards = []
        for m in g.members:
            pair = g.between(m.path, keep) if m.path != keep else None
            how = f"{pair.describe()} of {keep}" if pair else ("" if m.path == keep else f"{g.kind} copy of {keep}")
            fate = ("kept by clean --duplicates (the largest)" if m.path == keep else
                    "look-alike: clean --duplicates leaves it, split --semantic keeps it with the group"
                    if pair is not None and pair.kind == "semantic" else "quarantined by clean --duplicates")  # fmt: skip
            cards.append(
                Card(m.path, inp.label(m.path), f"{how}\n{fate}".strip(), badge="kept" if m.path == keep else g.kind)
            )
        title = f"{g.kind} · {len(g.members)} files · similarity ≥ {g.similarity:.2f} · ≤ {g.distance} pHash bits"
        groups.append(CardGroup(title, cards, leaks.get(tuple(g.paths))))
    groups.sort(key=lambda grp: grp.leak is None)  # stable: leaks first, then name order
    commands = [
        Command(_dp("clean", inp.root, "--duplicates", "--dry-run"), "quarantine all but the largest of each group")
    ]
    if inp.report.scan.splits:
        semantic = ["--semantic"] if inp.semantic else []
        commands.append(Command(_dp("leakage", inp.root, *semantic), "list the groups that cross splits"))
    description = (f"Exact copies, copies with the same pixels, and near copies (pHash within {inp.threshold} bits "
                   f"and detail similarity ≥ {inp.similarity:g}): resized, re-compressed, cropped, mirrored"
                   + ("; and look-alike copies from the embeddings (--semantic)." if inp.semantic else "."))  # fmt: skip
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
    scored = inp.label_issues_root
    elsewhere = scored is not None and Path(scored).expanduser().resolve() != inp.root.resolve()
    mismatch = f"This list was computed on '{scored}', not on this folder: paths may not match." if elsewhere else None
    return [Section("label-issues", "suspected label errors", f"{description} From {file}.", cards=cards,
                    commands=commands, note=mismatch)]  # fmt: skip


def outlier_section(inp: ReportInputs) -> list[Section]:
    """Images unlike the rest of their class and of the dataset, from `dataprep outliers`."""
    description = "Images unlike the rest of their class and of the dataset (far from their nearest neighbours)."
    if inp.outliers is None or inp.outliers_file is None:
        note = f"Not computed. Run `dataprep outliers {inp.root}` and pass its list with --outliers."
        return [Section("outliers", "outliers", description, note=note)]
    cards = [
        Card(o.path, o.label or inp.label(o.path), o.detail, badge="flagged" if o.flagged else None)
        for o in inp.outliers
    ]
    flagged = sum(o.flagged for o in inp.outliers)
    top = flagged or len(cards)
    does = f"quarantine the {top} flagged (unusual by the list's own cut-off)" if flagged else "quarantine them"
    command = _dp("clean", inp.root, "--outliers", inp.outliers_file, "--top", str(top), "--dry-run")
    commands = [Command(command, f"{does} for review; restore undoes it")]
    return [Section("outliers", "outliers", f"{description} From {inp.outliers_file}.", cards=cards, commands=commands)]


SectionFn = Callable[[ReportInputs], list[Section]]

# The page, in order: (name, function). A new judgment is one function and one row.
SECTIONS: tuple[tuple[str, SectionFn], ...] = (
    ("summary", summary_section),
    ("errors", error_section),
    ("warnings", warning_section),
    ("convert", convert_section),
    ("info", info_sections),
    ("duplicates", duplicate_section),
    ("label_issues", label_issue_section),
    ("outliers", outlier_section),
)


def build_sections(inp: ReportInputs) -> list[Section]:
    return [section for _, build in SECTIONS for section in build(inp)]

"""What `trainer` shows a person: the tables and lines its commands print.

The library modules (fit, evaluate, predict, bench, models) return data; the CLI hands that data
to these functions (or prints it as JSON). Nothing here computes a result.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from trainer.evaluate import Evaluation
    from trainer.label_issues import LabelIssuesResult
    from trainer.models import ModelInfo
    from trainer.predict import Prediction

TENSORBOARD_EXTRA = "pip install 'dataprep[tensorboard]'"


def tensorboard_command(logs: Path) -> str:
    """The exact command that shows a run's curves (quoted for the shell)."""
    return f"tensorboard --logdir {shlex.quote(str(logs))}"


def tensorboard_installed() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def print_fit_result(run_dir: Path, metrics: Mapping[str, Any], logs: Path) -> None:
    """One summary line, then the line that opens TensorBoard on the run."""
    line = f"run: {run_dir}  val_accuracy {metrics['val_accuracy']:.4f}  val_loss {metrics['val_loss']:.4f}"
    if "test_accuracy" in metrics:
        line += f"  test_accuracy {metrics['test_accuracy']:.4f}"
    print(line + f"  epochs {metrics['epochs_run']}  {metrics['train_seconds']:.1f}s")
    hint = "" if tensorboard_installed() else f"   (first: {TENSORBOARD_EXTRA})"
    print(f"curves: {tensorboard_command(logs)}{hint}")


def print_evaluation(report: Evaluation) -> None:
    """Accuracy line, per-class scores, the confusion matrix and the surest wrong answers."""
    console = Console()
    skipped = f", {report.skipped} skipped (listed above)" if report.skipped else ""
    console.print(
        f"{report.data} ({report.split or 'all'}): {report.images} images, accuracy {report.accuracy:.4f}, "
        f"loss {report.loss:.4f}{skipped}"
    )
    scores = Table("class", "precision", "recall", "f1", "support")
    for row in report.per_class:
        scores.add_row(
            row["class"], f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", str(row["support"])
        )
    console.print(scores)
    matrix = Table("true \\ predicted", *report.class_names)
    for name, counts in zip(report.class_names, report.confusion.tolist()):
        matrix.add_row(name, *(str(c) for c in counts))
    console.print(matrix)
    if report.confidently_wrong:
        wrong = Table("most confidently wrong", "true", "predicted", "confidence")
        for row in report.confidently_wrong:
            wrong.add_row(
                _relative(row["path"], report.data), row["true"], row["predicted"], f"{row['confidence']:.1%}"
            )
        console.print(wrong)
    else:
        console.print("no wrong answers")
    console.print(f"confusion matrix: {report.confusion_png}")


def _relative(path: str, root: str) -> str:
    """`path` under `root` as a short relative path; unchanged when it is elsewhere."""
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


def print_predictions(results: Sequence[Prediction]) -> None:
    """One line per answered file (with ✓/✗ where the folder gives the true class); the files
    that could not be read go to stderr."""
    for r in results:
        if r.error is not None:
            continue
        mark = "" if r.correct is None else ("  ✓" if r.correct else f"  ✗ (true: {r.true_label})")
        print(f"{r.path}: {r.label} ({r.confidence:.2%}){mark}")
    for r in results:
        if r.error is not None:
            print(f"error: {r.path}: {r.error}", file=sys.stderr)


def print_bench(result: Mapping[str, Any]) -> None:
    for key, value in result.items():
        print(f"{key}: {value}")


def print_models(rows: Sequence[ModelInfo], default: str) -> None:
    """The registry, the default marked with *."""
    for i in rows:
        mark = "*" if i.name == default else " "
        kind = "transfer" if i.transfer else "scratch"
        print(f"{mark} {i.name:18s} {kind:8s} {i.default_image_size:4d}px  {i.summary}")


def print_label_issues(result: LabelIssuesResult, shown: int = 20) -> None:
    """The ranked suspects of `trainer label-issues` (the first `shown`; the CSV has all)."""
    print(
        f"{len(result.issues)} of {len(result.paths)} images look mislabelled (folds' held-out accuracy: "
        + ", ".join(f"{a:.3f}" for a in result.fold_accuracy)
        + ")"
    )
    for issue in result.issues[:shown]:
        print(f"{issue.rank:4d}  {issue.path}  {issue.given_label} -> {issue.suggested_label}  score {issue.score:.3f}")
    if len(result.issues) > shown:
        print(f"... {len(result.issues) - shown} more in {result.run_dir / 'label_issues.csv'}")
    print(f"run: {result.run_dir}  picture: {result.run_dir / 'label_issues.png'}")

"""What a split asks for: counts or fractions per class, and how to treat label conflicts.

`SplitSpec` is frozen and pure: it validates itself on construction (one clear error per bad
value) and resolves each class's targets. Fractions round half up (`_resolve`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from dataprep.base.defaults import DEFAULT_SEED as DEFAULT_SEED  # re-exported: split, plan and the CLI read it here
from dataprep.base.errors import DataprepError

MODES = ("copy", "hardlink", "symlink", "move", "folds")
ON_CONFLICT = ("keep", "exclude")

Mode = Literal["copy", "hardlink", "symlink", "move", "folds"]
Amount = int | float  # a count (int >= 0) or a fraction (float in (0, 1))


def parse_amount(option: str, text: str) -> Amount:
    """'6' -> 6 (a count per class), '0.1' -> 0.1 (a fraction per class); anything else is an error."""
    value = text.strip()
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        raise DataprepError(
            f"{option} {text!r} is not a number; expected a count per class (e.g. 6) or a fraction in (0, 1) (e.g. 0.1)"
        ) from None
    if number.is_integer() and number >= 1:
        return int(number)
    return number


def _format_amount(value: Amount) -> str:
    return str(value)


@dataclass(frozen=True)
class SplitSpec:
    """How many images of each class go to val and test (and at most to train).

    Each amount is a count per class (``6``) or a fraction of the class in (0, 1) (``0.1``);
    train gets the rest, capped by `train` when it is given.
    """

    val: Amount = 0.1
    test: Amount = 0.1
    train: Amount | None = None
    on_conflict: str = "keep"  # a duplicate group across classes: "keep" it (in one split) or "exclude" it
    folds: int | None = None  # k for duplicate-aware cross-validation folds (planned by dataprep.split.folds)

    def __post_init__(self) -> None:
        if self.on_conflict not in ON_CONFLICT:
            raise DataprepError(f"unknown --on-conflict {self.on_conflict!r}; expected one of {'|'.join(ON_CONFLICT)}")
        if self.folds is not None and (
            isinstance(self.folds, bool) or not isinstance(self.folds, int) or self.folds < 2
        ):
            raise DataprepError(f"--folds {self.folds!r} is not a count >= 2; pass e.g. --folds 5, or leave it out")
        for option, value in (("--val", self.val), ("--test", self.test), ("--train", self.train)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise DataprepError(f"{option} {value!r} is not a number; expected a count or a fraction in (0, 1)")
            if value < 0:
                raise DataprepError(f"{option} {value} is negative; expected a count >= 0 or a fraction in (0, 1)")
            if isinstance(value, float) and not 0 < value < 1:
                raise DataprepError(
                    f"{option} {value} is not a fraction in (0, 1); pass a count (e.g. 6) or a fraction (e.g. 0.1)"
                )
        if self.train is not None and self.train == 0:
            raise DataprepError("--train 0 leaves nothing to train on; omit --train to keep every remaining image")
        fractions = [v for v in (self.val, self.test, self.train) if isinstance(v, float)]
        if len(fractions) > 1 and sum(fractions) >= 1:
            names = " ".join(
                f"{o} {v}"
                for o, v in (("--val", self.val), ("--test", self.test), ("--train", self.train))
                if isinstance(v, float)
            )
            raise DataprepError(
                f"fractions {names} add up to {round(sum(fractions), 6)}; they must add up to less than 1 so train gets images"
            )

    @classmethod
    def parse(
        cls, val: str, test: str, train: str | None = None, on_conflict: str = "keep", folds: int | None = None
    ) -> SplitSpec:
        """The spec from command-line text, e.g. ``SplitSpec.parse("6", "0.1")``."""
        return cls(
            val=parse_amount("--val", val),
            test=parse_amount("--test", test),
            train=None if train is None else parse_amount("--train", train),
            on_conflict=on_conflict,
            folds=folds,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "val": self.val,
            "test": self.test,
            "train": self.train,
            "on_conflict": self.on_conflict,
            "folds": self.folds,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SplitSpec:
        return cls(val=d["val"], test=d["test"], train=d.get("train"), on_conflict=d.get("on_conflict", "keep"),
                   folds=d.get("folds"))  # fmt: skip

    def describe(self) -> str:
        """The spec as the options that ask for it, e.g. ``--val 6 --test 6``."""
        text = f"--val {_format_amount(self.val)} --test {_format_amount(self.test)}"
        return text + (f" --train {_format_amount(self.train)}" if self.train is not None else "")

    def targets(self, label: str, n: int) -> tuple[int, int, int | None, list[str]]:
        """(val, test, train cap or None, warnings) for a class of `n` images; raises when impossible."""
        val, test = _resolve(self.val, n), _resolve(self.test, n)
        # A fraction that rounds to 0 still gives one image when the class can spare it
        # (train keeps at least one); val is served before test.
        warnings: list[str] = []
        if isinstance(self.val, float) and val == 0 and n - test >= 2:
            val = 1
        if isinstance(self.test, float) and test == 0 and n - val >= 2:
            test = 1
        empty = [
            name
            for name, a, k in (("val", self.val, val), ("test", self.test, test))
            if isinstance(a, float) and k == 0
        ]
        if empty:
            warnings.append(
                f"class {label!r} has {n} image{'s' if n != 1 else ''}: too few to spare one for {' and '.join(empty)}, "
                f"so its {' and '.join(empty)} folder{'s are' if len(empty) > 1 else ' is'} empty"
            )
        if val + test >= n:
            if isinstance(self.val, int) and isinstance(self.test, int):
                raise DataprepError(
                    f"class {label!r} has {n} images; {self.describe_val_test()} needs at least {val + test + 1}; "
                    "lower --val/--test or use fractions (e.g. --val 0.1)"
                )
            raise DataprepError(
                f"class {label!r} has {n} images; {self.describe_val_test()} asks for {val} + {test}, "
                "which leaves none for train; lower --val/--test"
            )
        cap = None if self.train is None else max(1, _resolve(self.train, n))
        return val, test, cap, warnings

    def describe_val_test(self) -> str:
        return f"--val {_format_amount(self.val)} --test {_format_amount(self.test)}"


def _resolve(amount: Amount | None, n: int) -> int:
    """A count as is; a fraction of `n` rounded half up (never Python's banker's rounding)."""
    if amount is None:
        return 0
    if isinstance(amount, int):
        return amount
    return math.floor(amount * n + 0.5)

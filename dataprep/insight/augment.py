"""The one definition of training augmentation: a spec string -> Keras 3 preprocessing layers.

`dataprep augment-preview` renders exactly what `trainer` trains with, because both build their
layers here and nowhere else. A spec is a comma-separated list of ``KEY=VALUE`` items, e.g.
``flip=horizontal,rotate=0.1,zoom=0.1,contrast=0.1``; ``none`` disables augmentation and an
empty spec means `DEFAULT_AUGMENT`.

Each augmentation is one row of `AUGMENTATIONS`: its value parser, its layer factory and how its
value is spelled in help and error messages. Adding one is adding a row; nothing else moves.
Layers always run in table order (geometry first, then colour), whatever order the user wrote,
so two specs with the same items are the same augmentation.

Keras is imported only inside `build_augmentation`: parsing a spec stays cheap for the CLI.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataprep.base.errors import DataprepError

if TYPE_CHECKING:  # pragma: no cover - typing only; keras is imported lazily at run time
    import keras

DEFAULT_AUGMENT: str = "flip=horizontal,rotate=0.1,zoom=0.1"
NONE_SPEC = "none"
DEFAULT_NAME = "default"  # names DEFAULT_AUGMENT on the command line and in configs

# Images are 0..255 before and after augmentation; colour layers need to know the range.
VALUE_RANGE = (0.0, 255.0)
# Pixels that geometry moves in from outside the image mirror the edge (no black corners).
FILL_MODE = "reflect"

AugmentValue = str | float


@dataclass(frozen=True)
class Augmentation:
    """One row of the augmentation table.

    `parse` turns the text after ``KEY=`` into a value (raising ValueError with what it expected);
    `layer` builds the Keras layer from the keras module, that value and a seed (or None);
    `values` is how the value is written in help and error messages.
    """

    parse: Callable[[str], AugmentValue]
    layer: Callable[[Any, Any, int | None], Any]
    values: str


FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


def _parse_flip(text: str) -> str:
    mode = text.strip().lower()
    if mode not in FLIP_MODES:
        raise ValueError(f"expected one of {', '.join(FLIP_MODES)}")
    return mode


def _parse_factor(text: str) -> float:
    """A fraction strictly between 0 and 1 (Keras' `factor`: 0.1 means up to +/-10 %)."""
    try:
        factor = float(text)
    except ValueError:
        raise ValueError("expected a number between 0 and 1, e.g. 0.1") from None
    if not (math.isfinite(factor) and 0.0 < factor < 1.0):
        raise ValueError("expected a number between 0 and 1 (exclusive), e.g. 0.1; leave the key out to disable it")
    return factor


# Every layer is float32 whatever the global dtype policy: under mixed_float16 a policy-following
# layer would hand float16 to the next step, and the contract is float32 in 0..255.
AUGMENTATIONS: dict[str, Augmentation] = {
    "flip": Augmentation(
        _parse_flip,
        lambda keras, mode, seed: keras.layers.RandomFlip(mode, seed=seed, dtype="float32", name="augment_flip"),
        "|".join(FLIP_MODES),
    ),
    "rotate": Augmentation(
        _parse_factor,
        lambda keras, f, seed: keras.layers.RandomRotation(
            f, fill_mode=FILL_MODE, seed=seed, dtype="float32", name="augment_rotate"
        ),
        "FRACTION_OF_A_TURN",
    ),
    "zoom": Augmentation(
        _parse_factor,
        lambda keras, f, seed: keras.layers.RandomZoom(
            f, fill_mode=FILL_MODE, seed=seed, dtype="float32", name="augment_zoom"
        ),
        "FACTOR",
    ),
    "translate": Augmentation(
        _parse_factor,
        lambda keras, f, seed: keras.layers.RandomTranslation(
            f, f, fill_mode=FILL_MODE, seed=seed, dtype="float32", name="augment_translate"
        ),
        "FRACTION_OF_SIZE",
    ),
    "contrast": Augmentation(
        _parse_factor,
        lambda keras, f, seed: keras.layers.RandomContrast(
            f, value_range=VALUE_RANGE, seed=seed, dtype="float32", name="augment_contrast"
        ),
        "FACTOR",
    ),
    "brightness": Augmentation(
        _parse_factor,
        lambda keras, f, seed: keras.layers.RandomBrightness(
            f, value_range=VALUE_RANGE, seed=seed, dtype="float32", name="augment_brightness"
        ),
        "FACTOR",
    ),
}


def accepted_keys() -> str:
    """The accepted keys as error messages list them: ``flip, rotate, ... (or 'none')``."""
    return f"{', '.join(AUGMENTATIONS)} (or '{NONE_SPEC}')"


def augment_help() -> str:
    """One line for `--augment` help texts, generated from the table."""
    items = ", ".join(f"{key}={row.values}" for key, row in AUGMENTATIONS.items())
    return (
        f"Augmentation spec: comma-separated KEY=VALUE from {items} (factors are numbers between 0 and 1); "
        f"'{NONE_SPEC}' disables it; '{DEFAULT_NAME}' is {DEFAULT_AUGMENT}."
    )


def _format_value(value: object) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return str(value)


def _order(key: str) -> int:
    return list(AUGMENTATIONS).index(key)


def _parsed_step(key: str, raw: str, source: str) -> tuple[str, AugmentValue]:
    """Validate one ``KEY=VALUE`` item; `source` is the whole spec, for the error message."""
    row = AUGMENTATIONS.get(key)
    if row is None:
        raise DataprepError(
            f"unknown augmentation key {key!r} in --augment {source!r}; accepted keys: {accepted_keys()}"
        )
    try:
        return key, row.parse(raw)
    except ValueError as err:
        raise DataprepError(
            f"bad value {raw!r} for {key!r} in --augment {source!r}: {err}; accepted keys: {accepted_keys()}"
        ) from None


def _canonical_steps(steps: Iterable[tuple[str, object]], source: str) -> tuple[tuple[str, AugmentValue], ...]:
    """Validate every step, reject repeated keys, and sort the steps into table order."""
    seen: dict[str, AugmentValue] = {}
    for key, value in steps:
        if key in seen:
            raise DataprepError(
                f"augmentation key {key!r} given twice in --augment {source!r}; give each key once "
                f"(accepted keys: {accepted_keys()})"
            )
        seen[key] = _parsed_step(key, _format_value(value), source)[1]
    return tuple(sorted(seen.items(), key=lambda item: _order(item[0])))


@dataclass(frozen=True)
class AugmentSpec:
    """A parsed, validated augmentation: ``(key, value)`` steps in table order.

    Hashable and comparable; equal specs build the same layers. An empty spec is ``none``.
    Build one with `parse_augment_spec`; constructing it directly validates the steps too.
    """

    steps: tuple[tuple[str, AugmentValue], ...] = ()

    def __post_init__(self) -> None:
        source = ",".join(f"{k}={_format_value(v)}" for k, v in self.steps) or NONE_SPEC
        object.__setattr__(self, "steps", _canonical_steps(self.steps, source))

    @property
    def enabled(self) -> bool:
        """False for ``none``: training sees the images as they are."""
        return bool(self.steps)

    def to_string(self) -> str:
        """The canonical spec string: parsing it gives back an equal spec."""
        if not self.steps:
            return NONE_SPEC
        return ",".join(f"{key}={_format_value(value)}" for key, value in self.steps)

    def __str__(self) -> str:
        return self.to_string()


def parse_augment_spec(text: str | AugmentSpec | None) -> AugmentSpec:
    """Parse an ``--augment`` value into an AugmentSpec.

    None, an empty string or ``default`` gives the default (`DEFAULT_AUGMENT`); ``none`` gives no augmentation.
    Raises DataprepError with one line naming the bad item and listing the accepted keys.
    """
    if isinstance(text, AugmentSpec):
        return text
    source = "" if text is None else text.strip()
    if not source or source.lower() == DEFAULT_NAME:
        source = DEFAULT_AUGMENT
    if source.lower() == NONE_SPEC:
        return AugmentSpec()
    steps: list[tuple[str, AugmentValue]] = []
    for item in source.split(","):
        item = item.strip()
        if not item:
            continue  # tolerate "a=1,,b=2" and a trailing comma
        key, sep, raw = item.partition("=")
        key = key.strip().lower()
        if not sep or not raw.strip():
            if key == NONE_SPEC:
                raise DataprepError(
                    f"'{NONE_SPEC}' cannot be combined with other items in --augment {text!r}; "
                    f"pass --augment {NONE_SPEC} alone, or only KEY=VALUE items"
                )
            raise DataprepError(
                f"augmentation item {item!r} in --augment {text!r} is not KEY=VALUE "
                f"(e.g. {DEFAULT_AUGMENT}); accepted keys: {accepted_keys()}"
            )
        steps.append((key, raw.strip()))
    return AugmentSpec(_canonical_steps(steps, str(text)))


def build_augmentation(spec: str | AugmentSpec | None = None, seed: int | None = None) -> keras.layers.Pipeline:
    """Build the training augmentation as a `keras.layers.Pipeline`.

    Input: a batch (B, H, W, C) — or one (H, W, C) image — with values 0..255, uint8 or float.
    Output: float32 in 0..255, same shape. It runs eagerly, inside a model, or inside tf.data
    (``batched_ds.map(pipeline)``; Pipeline's `training` defaults to True there). Called with
    ``training=False`` it is the identity up to the float32 cast; ``none`` builds only that cast.
    With a `seed`, layer number i of the table is seeded with ``seed + i``, so the same seed gives
    the same transforms and adding one augmentation does not change the others' draws.
    """
    from dataprep.base.tensorflow_runtime import import_tensorflow

    import_tensorflow()  # quietly, before Keras pulls it in with its start-up noise
    import keras  # lazy: keeps `dataprep --help` and spec parsing free of TensorFlow

    parsed = parse_augment_spec(spec)
    # First step: cast to float32 (scale 1) so uint8 input and the "none" spec both give float32;
    # a Pipeline with no layers at all fails when called.
    layers: list[Any] = [keras.layers.Rescaling(1.0, dtype="float32", name="augment_to_float32")]
    for key, value in parsed.steps:
        layer_seed = None if seed is None else seed + _order(key)
        layers.append(AUGMENTATIONS[key].layer(keras, value, layer_seed))
    return keras.layers.Pipeline(layers, name="augmentation")

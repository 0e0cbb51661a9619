"""What the trainer reads is screened the way `dataprep validate` screens it.

`predict` and `evaluate` run validate's per-file checks (through its public
`dataprep.inspection.validate.inspect_paths`, from validate's result cache when a file is unchanged) and
leave out every file validate calls an error: a 16-bit grayscale PNG that TensorFlow would read
as black, an image over the pixel cap, a file no decoder reads. `fit` applies the same pixel
cap from the headers alone (a cheap read) so the training decoder never meets a decompression
bomb. One cap everywhere: `--max-pixels`, which raises Pillow's own limit too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dataprep.base.defaults import DEFAULT_MAX_PIXELS, apply_pixel_cap
from dataprep.base.findings import Severity
from trainer import data

SERIAL_UP_TO = 1000  # files: fewer are inspected in this process (measured: a pool of TF workers takes 13-23 s to start; 80 files in-process add 0.8-1.5 s)


@dataclass(frozen=True)
class ScreenOptions:
    """How `predict` and `evaluate` inspect their files (validate's options of the same names)."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    jobs: int | None = None  # None: in this process for a few files, else a pool over all cores
    cache_dir: Path | None = None
    use_cache: bool = True


def refused_files(paths: Sequence[Path], options: ScreenOptions | None = None) -> dict[Path, str]:
    """The files among `paths` that validate rates `error`, each with why ("check: detail")."""
    from dataprep.inspection.validate import ValidateOptions, inspect_paths

    opts = options or ScreenOptions()
    apply_pixel_cap(opts.max_pixels)
    jobs = opts.jobs if opts.jobs is not None else (0 if len(paths) <= SERIAL_UP_TO else None)
    results = inspect_paths(
        paths,
        ValidateOptions(jobs=jobs, cache_dir=opts.cache_dir, use_cache=opts.use_cache, max_pixels=opts.max_pixels),
    )
    refused: dict[Path, str] = {}
    for path, result in results.items():
        errors = [f for f in result.findings if f.severity >= Severity.ERROR]
        if errors:
            refused[path] = f"{errors[0].check}: {errors[0].detail}"
    return refused


def over_pixel_cap(path: str, max_pixels: int) -> str | None:
    """Why `path` is over the pixel cap, from its header alone (no pixels decoded); None if not."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(path) as im:
                    width, height = im.size
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Exception:
        return None
    if width * height > max_pixels:
        return f"pixel_limit: {width}x{height} is over the {max_pixels} pixel cap; not decoded (raise --max-pixels)"
    return None


def within_pixel_cap(files: data.FileList, max_pixels: int) -> tuple[data.FileList, dict[str, str]]:
    """`files` without those whose header claims more than `max_pixels`, and those left out."""
    apply_pixel_cap(max_pixels)
    keep: list[int] = []
    left_out: dict[str, str] = {}
    for i, path in enumerate(files.paths):
        why = over_pixel_cap(path, max_pixels)
        if why is None:
            keep.append(i)
        else:
            left_out[path] = why
    return (files if not left_out else files.subset(keep, files.split)), left_out


def undecodable(files: data.FileList, image_size: int) -> list[str]:
    """The files of `files` the training decoder cannot read (those the pipeline skipped).

    A second decode pass, so only worth it when the pipeline's count says some were skipped."""
    import tensorflow as tf

    paths = tf.data.Dataset.from_tensor_slices(tf.constant(list(files.paths), tf.string))
    decoded = paths.map(
        # The pixels themselves, not their (static) shape: that would let TensorFlow skip the decode.
        lambda p: (p, data.load_image(p, image_size)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    ).ignore_errors()
    ok = {p.numpy().decode("utf-8", "surrogateescape") for p, _ in decoded}
    return [p for p in files.paths if p not in ok]

"""Input pipelines: class-folder trees to cached, shuffled, augmented tf.data datasets.

Order of operations (STYLE.md, practice 6): list files → parallel read + decode + resize to uint8
→ skip undecodable files → ``cache()`` (memory, or a keyed file cache) → shuffle → batch →
augment (train only, vectorized; uint8 batches otherwise) → prefetch. Everything before the
cache is deterministic, so the cache holds each image once, as uint8 (a quarter of the float32
the tutorials cache).

JPEGs much larger than the target are decoded at reduced scale (``decode_jpeg(ratio=2|4|8)``,
libjpeg's DCT scaling) before resizing: the same decoder, a fraction of the work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tensorflow as tf

from dataprep.base.defaults import DEFAULT_SEED
from dataprep.base.errors import DataprepError
from dataprep.base.tf_decode import (  # noqa: F401 - JPEG_RATIOS, decode_image, jpeg_ratio_index re-exported
    JPEG_RATIOS,
    decode_image,
    decode_jpeg_at,
    jpeg_header_size,
    jpeg_ratio,
    jpeg_ratio_index,
    load_image,
)
from dataprep.inspection.scan import (
    junk_reason,
    natural_key,
    no_images_message,
    require_directory,
    scan_dataset,
    split_folders,
    split_role,
)
from dataprep.split.manifest import SplitManifest, link_targets

log = logging.getLogger(__name__)

AUTOTUNE = tf.data.AUTOTUNE
# Bump when decode/resize changes, so a file cache written by older code is never read.
PREPROCESSING_VERSION = 2
SHUFFLE_BUFFER_MAX = 16384


@dataclass(frozen=True)
class FileList:
    """Image files and their class indices, in natural order; `class_names[i]` names index i."""

    paths: tuple[str, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]
    root: str
    split: str | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def class_counts(self) -> list[int]:
        counts = [0] * len(self.class_names)
        for label in self.labels:
            counts[label] += 1
        return counts

    def subset(self, indices: Sequence[int], split: str | None) -> FileList:
        return replace(
            self,
            paths=tuple(self.paths[i] for i in indices),
            labels=tuple(self.labels[i] for i in indices),
            split=split,
        )


def read_class_names(root: str | os.PathLike[str], layout: str | None = None) -> list[str]:
    """The class index of a dataset folder.

    From ``split.json`` (written by ``dataprep split``) when present; otherwise the sorted
    folder names of the train split (``train/`` or ``training/``; split layout) or of the root
    (raw layout).
    """
    base = require_directory(root, "a split folder or a folder of class folders")
    classes = SplitManifest.class_names(base)
    if classes is not None:
        return classes
    found, folders = split_folders(base, layout)
    top = folders.get("train") if found == "split" else None
    folder = base / top if top else base
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if found == "split" and not top:
        raise DataprepError(
            f"'{base}' has split folders ({', '.join(folders.values())}) but no train|training folder to train on; "
            "add one, or pass the folder of class folders"
        )
    if not names:
        raise DataprepError(
            f"no class folders in '{folder}' (expected CLASS/ subfolders with images); "
            "point at a folder written by 'dataprep split' or at ROOT/CLASS/*.jpg"
        )
    return names


def list_files(root: str | os.PathLike[str], split: str | None = None, layout: str | None = None) -> FileList:
    """Images of one split or, with ``split=None``, of every image under a raw class-folder tree
    (or the train split of a split folder). `split` is a role (``train``, ``val``, ``test``) or
    the folder's own name (``training``, ``validation``, ``dev``, ...)."""
    scan = scan_dataset(root, layout, link_targets(root))
    if not scan.images:
        raise DataprepError(no_images_message(scan, root))
    if scan.layout == "flat":
        raise DataprepError(
            f"images sit directly in '{root}' (expected class folders: ROOT/CLASS/*.jpg or ROOT/train/CLASS/*.jpg); "
            "move them into one folder per class"
        )
    class_names = read_class_names(scan.root, layout)
    index = {name: i for i, name in enumerate(class_names)}
    wanted: str | None
    if scan.layout == "split":
        role = split_role(split) if split not in (None, "all") else "train"
        wanted = scan.split_folders.get(role or "")
        if wanted is None:
            raise DataprepError(
                f"'{root}' has no {split!r} split (it has {', '.join(scan.split_folders.values())}); "
                "pick one of those, or run 'dataprep split'"
            )
    else:
        if split not in (None, "train", "all"):
            raise DataprepError(
                f"'{root}' has no '{split}/' split (it is a folder of class folders); "
                "split it with 'dataprep split' or omit the split"
            )
        wanted = None
    paths: list[str] = []
    labels: list[int] = []
    for record in scan.images:
        if wanted is not None and record.split != wanted:
            continue
        if record.label is None:
            continue
        if record.label not in index:
            raise DataprepError(
                f"class folder '{record.label}' in '{root}' is not in the class list {class_names} "
                "(from split.json or the train split); give every split the same class folders"
            )
        paths.append(str(record.path))
        labels.append(index[record.label])
    if not paths:
        prefix = f"{wanted}/" if wanted else ""
        skipped_links = [p for p in scan.problems if p.check == "not_followed" and p.rel.startswith(prefix)]
        if skipped_links:
            raise DataprepError(
                f"no images in '{scan.root / prefix}': {len(skipped_links)} symbolic links there are not followed "
                f"(e.g. {skipped_links[0].rel}); re-run 'dataprep split' with copies or hardlinks"
            )
    _warn_unreadable_formats(paths, scan.root)
    return FileList(tuple(paths), tuple(labels), tuple(class_names), str(scan.root), wanted)


def _warn_unreadable_formats(paths: Sequence[str], root: Path) -> None:
    """One line when files are named as formats TensorFlow cannot decode (a hint from the names:
    training reads the bytes and skips what it cannot decode; `dataprep convert` fixes them)."""
    from collections import Counter

    from dataprep.base.formats import TF_FORMATS, extension_format, format_name

    found = Counter(f for p in paths if (f := extension_format(p)) is not None and f not in TF_FORMATS)
    if found:
        kinds = ", ".join(f"{format_name(f)} {n}" for f, n in sorted(found.items()))
        log.warning(
            "%d files in '%s' are in formats TensorFlow cannot decode (%s): training skips them; "
            "run 'dataprep convert %s' first",
            sum(found.values()),
            root,
            kinds,
            root,
        )


def available_splits(root: str | os.PathLike[str], layout: str | None = None) -> list[str]:
    """The split roles ('train', 'val', 'test') present under `root`, whatever their folders are
    called on disk (train|training, val|valid|validation|dev, test|testing); empty for a raw tree."""
    found, folders = split_folders(require_directory(root), layout)
    return list(folders) if found == "split" else []


def expand_image_paths(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; folders expanded to their image files (recursively, natural order)."""
    found: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            inner = [p for p in path.rglob("*") if p.is_file() and junk_reason(p.name) is None]
            found.extend(sorted(inner, key=lambda p: natural_key(p.as_posix())))
        else:
            found.append(path)
    return found


def stratified_split(files: FileList, val_fraction: float, seed: int) -> tuple[FileList, FileList]:
    """Hold out `val_fraction` of each class (seeded), for folders without a val/ split."""
    if not 0.0 < val_fraction < 1.0:
        raise DataprepError(f"--val-fraction {val_fraction} is out of range (expected 0 < f < 1)")
    rng = random.Random(seed)
    train_idx: list[int] = []
    val_idx: list[int] = []
    for label in range(len(files.class_names)):
        members = [i for i, y in enumerate(files.labels) if y == label]
        rng.shuffle(members)
        n_val = round(len(members) * val_fraction) if len(members) > 1 else 0
        val_idx.extend(members[:n_val])
        train_idx.extend(members[n_val:])
    return files.subset(sorted(train_idx), "train"), files.subset(sorted(val_idx), "val")


def cache_key(files: FileList, image_size: int) -> str:
    """Hash of everything the cached pixels depend on: files (path, size, mtime), labels,
    image size and preprocessing version. A changed input means a new key, never a stale read."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"version": PREPROCESSING_VERSION, "image_size": image_size}).encode())
    for path, label in zip(files.paths, files.labels):
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        digest.update(f"{path}\0{label}\0{stamp}\n".encode())
    return digest.hexdigest()[:20]


def cache_path(cache_dir: str | os.PathLike[str], files: FileList, image_size: int) -> Path:
    """Where the file cache of `files` at `image_size` lives (TF adds .index / .data-* suffixes)."""
    name = f"{files.split or 'all'}-{image_size}px-{cache_key(files, image_size)}"
    return Path(cache_dir) / name


def _prepare_file_cache(prefix: Path) -> None:
    """Remove leftovers of an interrupted cache write (TF leaves a lockfile and no index)."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    if Path(f"{prefix}.index").exists():
        return
    for leftover in prefix.parent.glob(f"{prefix.name}*"):
        leftover.unlink()


def plain_graph(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` traced as written, without AutoGraph's source conversion.

    The pipeline's map functions hold no Python control flow on tensors (the decode branches with
    tf.cond / tf.switch_case itself), so converting them buys nothing and costs ~0.3 s the first
    time in a process: a quarter of a first pass over 800 photos (BENCHMARKS.md, trainer input
    pipeline).
    """
    return tf.autograph.experimental.do_not_convert(fn)  # type: ignore[no-any-return]


@dataclass
class Pipeline:
    """A dataset plus what the caller needs to know about it.

    `images` is the per-image uint8 dataset after the cache (before shuffle): iterating it again
    after a full pass reads the cache, which is how `count_decoded` stays cheap.
    """

    dataset: tf.data.Dataset
    images: tf.data.Dataset
    files: FileList
    image_size: int
    cache_file: Path | None

    def count_decoded(self) -> int:
        """How many files decoded (the rest were skipped); reads the cache after a full pass.

        The labels alone, in one batch as large as the file list (so there is exactly one, or
        none when nothing decoded), read with ``get_single_element``: 5 ms per 800 images at
        180 px against 20 ms through a Python iterator and 44 ms for a ``reduce``, which traces a
        new function on every call (BENCHMARKS.md, trainer input pipeline)."""
        labels = self.images.map(plain_graph(lambda _, label: label)).batch(max(len(self.files), 1))
        try:
            return int(labels.get_single_element().shape[0])
        except tf.errors.InvalidArgumentError:  # no batch at all: nothing decoded
            return 0


# Group of files whose JPEG header could not be read on the host: `decode_image` branches itself.
_BRANCHING = 0


HEADER_THREADS = 8
HEADER_THREADS_FROM = 1024  # files; fewer are read on the calling thread


def decode_groups(files: FileList, image_size: int) -> list[int]:
    """Per file, the DCT ratio its JPEG header calls for at `image_size` (``jpeg_ratio``), or
    `_BRANCHING` (0) for a file whose header this cannot read (other formats, damaged or missing
    files): those go through `decode_image`, which finds the ratio in the graph.

    Large lists are read by a few threads in contiguous chunks (file opens release the GIL), so a
    slow file system's latency overlaps as it does for the pipeline's own reads."""
    from concurrent.futures import ThreadPoolExecutor

    def read(paths: Sequence[str]) -> list[int]:
        sizes = (jpeg_header_size(path) for path in paths)
        return [_BRANCHING if size is None else jpeg_ratio(size[0], size[1], image_size) for size in sizes]

    if len(files) < HEADER_THREADS_FROM:
        return read(files.paths)
    step = -(-len(files) // HEADER_THREADS)
    chunks = [files.paths[i : i + step] for i in range(0, len(files), step)]
    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        return [group for chunk in pool.map(read, chunks) for group in chunk]


def decoded_images(
    files: FileList, image_size: int, cache_dir: str | os.PathLike[str] | None = None, cache: bool = True
) -> tuple[tf.data.Dataset, Path | None]:
    """(uint8 image, label) per decodable file, in file order, cached. Undecodable files are
    skipped (and logged by tf.data); compare the count with len(files) to see how many.

    The pixels are `load_image`'s. Files are decoded in groups of one DCT ratio, read from their
    headers on the host (~10 µs per file), so no map function branches per element; the groups'
    outputs are merged back into file order.
    """
    cache_file = cache_path(cache_dir, files, image_size) if cache and cache_dir is not None else None
    if cache_file is not None and Path(f"{cache_file}.index").exists():
        groups = [_BRANCHING] * len(files)  # a complete file cache: nothing will be decoded
    else:
        groups = decode_groups(files, image_size)
    present = sorted(set(groups)) or [_BRANCHING]
    streams = []
    for group in present:
        members = [i for i, g in enumerate(groups) if g == group]
        ds = tf.data.Dataset.from_tensor_slices(
            (
                tf.constant([files.paths[i] for i in members], tf.string),
                tf.constant([files.labels[i] for i in members], tf.int32),
            )
        )
        if group == _BRANCHING:
            decode = plain_graph(lambda path, label: (load_image(path, image_size), label))
        else:
            decode = plain_graph(
                lambda path, label, ratio=group: (decode_jpeg_at(tf.io.read_file(path), ratio, image_size), label)
            )
        streams.append(ds.map(decode, num_parallel_calls=AUTOTUNE, deterministic=True))
    if len(streams) == 1:
        ds = streams[0]
    else:
        order = tf.data.Dataset.from_tensor_slices(tf.constant([present.index(g) for g in groups], tf.int64))
        ds = tf.data.Dataset.choose_from_datasets(streams, order)
    ds = ds.ignore_errors(log_warning=True)
    if cache_file is not None:
        _prepare_file_cache(cache_file)
        ds = ds.cache(str(cache_file))
    elif cache:
        ds = ds.cache()
    return ds, cache_file


def make_pipeline(
    files: FileList,
    *,
    image_size: int,
    batch_size: int,
    training: bool,
    seed: int = DEFAULT_SEED,
    augment: object | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
    shard_by_data: bool = False,
) -> Pipeline:
    """The full pipeline for training (`training=True`: shuffle + augment) or evaluation.

    `augment` is an augmentation spec (string / AugmentSpec, see ``dataprep.insight.augment``) or None;
    it runs on whole batches after the cache. Batches are pixels in 0..255 — uint8, or float32
    when augmented — and int32 labels. A Keras model casts uint8 input to its input's dtype and
    rescales inside itself, so the pipeline writes no float32 copy of every batch: a quarter of
    the bytes per batch to the accelerator, and the cast runs there (BENCHMARKS.md, trainer
    input pipeline).
    """
    if len(files) == 0:
        what = f"the '{files.split}' split of " if files.split else ""
        raise DataprepError(
            f"no images in {what}'{files.root}' (expected CLASS/*.jpg files); check the folder or run 'dataprep split'"
        )
    images, cache_file = decoded_images(files, image_size, cache_dir=cache_dir, cache=cache)
    ds = images
    if training:
        ds = ds.shuffle(min(len(files), SHUFFLE_BUFFER_MAX), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, num_parallel_calls=AUTOTUNE, deterministic=True)
    augmenter = build_augmenter(augment, seed) if training and augment is not None else None
    if augmenter is not None:
        # The augmentation's first layer casts uint8 to float32 itself: no separate cast pass.
        ds = ds.map(lambda x, y: (augmenter(x, training=True), y), num_parallel_calls=AUTOTUNE)
    ds = ds.prefetch(AUTOTUNE)
    if shard_by_data:
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(options)
    return Pipeline(ds, images, files, image_size, cache_file)


def build_augmenter(spec: object, seed: int) -> Any:
    """The shared augmentation (``dataprep.insight.augment``) for `spec`, or None when it is disabled."""
    from dataprep.insight.augment import build_augmentation, parse_augment_spec

    parsed = parse_augment_spec(spec)  # type: ignore[arg-type]
    if not parsed.enabled:
        return None
    return build_augmentation(parsed, seed=seed)


def normalize_augment(spec: str | None) -> str:
    """The canonical string of an augmentation spec, for config.json: 'none' when disabled,
    the shared default for None, '' or 'default' (`dataprep.insight.augment.parse_augment_spec`)."""
    from dataprep.insight.augment import parse_augment_spec

    return parse_augment_spec(spec).to_string()

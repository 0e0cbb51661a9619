"""Every default and every allowed range of the command-line options, each defined once.

The two command lines (`dataprep`, `trainer`) declare their options in `dataprep.options` from
these numbers, and the library's dataclasses take their defaults from here too, so a default
cannot drift between a command, its help text and the code it calls. No third-party imports:
worker processes import this module.
"""

from __future__ import annotations

# --- inspection (validate and every command that runs validate's checks) ---------------------
# Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS): 0.5 GiB of 24-bit RGB.
DEFAULT_MAX_PIXELS = 178_956_970
MAX_PIXELS_RANGE = (1, 1 << 40)
DEFAULT_MIN_SIZE = 8  # px: narrower or shorter images are `too_small` warnings
MIN_SIZE_RANGE = (1, 1 << 20)
DEFAULT_TIMEOUT_S = 60.0  # seconds one file may take before its decoder counts as hung
TIMEOUT_RANGE_S = (1.0, 7 * 24 * 3600.0)
DEFAULT_ENGINE = "local"  # where files are inspected: this machine's process pool (dataprep.inspection.engines)
JOBS_RANGE = (0, 1024)  # worker processes; 0 inspects in the calling process

# --- grouping ---------------------------------------------------------------------------------
DEFAULT_THRESHOLD_BITS = 12  # near-duplicate candidates: at most this many of the 64 pHash bits differ
DEFAULT_SIMILARITY = (
    0.5  # near duplicates: the detail correlation a candidate needs (dataprep/duplicates/similarity.py)
)
THRESHOLD_RANGE_BITS = (0, 24)

# --- convert ---------------------------------------------------------------------------------
DEFAULT_CONVERT_TO = "png"  # re-encoded images become PNG (lossless); JPEG sources stay JPEG
DEFAULT_JPEG_QUALITY = 95  # keeps photos intact

# --- pictures ---------------------------------------------------------------------------------
DEFAULT_PREVIEW_IMAGES = 4  # augment-preview: real images shown, spread across classes
DEFAULT_PREVIEW_PER_IMAGE = 5  # augment-preview: augmented copies per image
DEFAULT_PREVIEW_SIZE = 256  # px: augment-preview's longest side of each image
DEFAULT_GALLERY = 48  # report: thumbnails per section on the page

# --- outliers (dataprep/embeddings/outliers.py) -----------------------------------------------------------
DEFAULT_OUTLIER_NEIGHBOURS = 10  # nearest neighbours each image's distance is measured to
DEFAULT_OUTLIERS_TOP = 20  # how many of the most unusual images `outliers` lists
OUTLIER_FLAG_SCORE = 3.5  # robust z at or above which an image is flagged (Iglewicz and Hoaglin's cut-off)

# --- randomness -------------------------------------------------------------------------------
DEFAULT_SEED = 1337  # split and fit: same files + same seed = same result
DEFAULT_PREVIEW_SEED = 0  # augment-preview
SEED_RANGE = (0, 2**32 - 1)  # what numpy and TensorFlow accept as a seed

# --- training ---------------------------------------------------------------------------------
DEFAULT_MODEL = "compact_cnn"  # trainer.models' registry: fit and label-issues train it unless told otherwise
DEFAULT_BATCH_SIZE = 32
BATCH_SIZE_RANGE = (1, 1 << 16)
IMAGE_SIZE_RANGE = (16, 4096)  # px, square model input; each model has its own minimum too
DEFAULT_BENCH_IMAGE_SIZE = 128
DEFAULT_EMBED_SIZE = 224  # px: `embed`, the pretrained backbone's ImageNet training size
DEFAULT_EPOCHS = 12
EPOCHS_RANGE = (1, 100_000)
DEFAULT_LR = 3e-3
LR_RANGE = (1e-9, 10.0)
DEFAULT_VAL_FRACTION = 0.2
PATIENCE_RANGE = (0, 100_000)


def apply_pixel_cap(max_pixels: int) -> None:
    """Make Pillow's own decompression-bomb limit the project's pixel cap in this process.

    Pillow refuses images over twice ``Image.MAX_IMAGE_PIXELS`` and warns above it; with its
    limit left at the default, ``--max-pixels 500000000`` would let a 13500x13300 photo past
    our header check only for Pillow to refuse it. Every decode that honours the cap (validate,
    predict, augment-preview, the trainer) calls this with the cap it was given.
    """
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = max(int(max_pixels), DEFAULT_MAX_PIXELS)

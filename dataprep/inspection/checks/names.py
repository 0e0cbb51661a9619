"""Every check's name, defined once. Reports, caches, the fixture READMEs and users' scripts
key on these strings, so code refers to them through `Check`, never as literals."""

from __future__ import annotations

from typing import Final


class Check:
    """Check names (a namespace of constants: `Check.TF_DECODE == "tf_decode"`)."""

    # Per file, from the file's bytes and header.
    EMPTY_FILE: Final = "empty_file"
    UNKNOWN_FORMAT: Final = "unknown_format"
    UNSUPPORTED_FORMAT: Final = "unsupported_format"
    EXTENSION_MISMATCH: Final = "extension_mismatch"
    NO_JFIF_MARKER: Final = "no_jfif_marker"
    TRUNCATED: Final = "truncated"
    TRAILING_DATA: Final = "trailing_data"
    PIXEL_LIMIT: Final = "pixel_limit"
    TOO_SMALL: Final = "too_small"
    COLOR_MODE: Final = "color_mode"
    ANIMATED: Final = "animated"
    EXIF_ORIENTATION: Final = "exif_orientation"
    # Per file, from the decoders' verdicts.
    PILLOW_DECODE: Final = "pillow_decode"
    TF_DECODE: Final = "tf_decode"
    CORRUPT_DATA: Final = "corrupt_data"
    WRONG_PIXELS: Final = "wrong_pixels"
    # Per file, image quality (CleanVision's names).
    DARK: Final = "dark"
    LIGHT: Final = "light"
    BLURRY: Final = "blurry"
    LOW_INFORMATION: Final = "low_information"
    ODD_ASPECT_RATIO: Final = "odd_aspect_ratio"
    GRAYSCALE: Final = "grayscale"
    # Over the whole dataset, or about the scan rather than one image's content.
    JUNK_FILE: Final = "junk_file"
    DUPLICATE: Final = "duplicate"
    NEAR_DUPLICATE: Final = "near_duplicate"
    ODD_SIZE: Final = "odd_size"
    INSPECTION_FAILED: Final = "inspection_failed"
    NOT_FOLLOWED: Final = "not_followed"
    EMPTY_CLASS: Final = "empty_class"

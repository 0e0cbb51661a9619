"""Image-quality checks, named as CleanVision names them: dark, light, blurry,
low_information, odd_aspect_ratio, grayscale (odd_size needs the whole dataset: see validate).

Each reads the properties computed once from Pillow's decode (`Sample.properties`) and the
thresholds on `CheckOptions.quality`. Images under MIN_JUDGED_SIDE pixels are not judged
(too_small speaks for them), nor are images whose properties are off or that did not decode.
"""

from __future__ import annotations

from collections.abc import Iterator

from dataprep.inspection.checks.image_properties import MIN_JUDGED_SIDE
from dataprep.inspection.checks.sample import Sample

_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def _judged(s: Sample) -> dict[str, float] | None:
    props = s.properties
    w, h = s.header.width, s.header.height
    if props is None or w is None or h is None or min(w, h) < MIN_JUDGED_SIDE:
        return None
    return props.values


def dark(s: Sample) -> Iterator[str]:
    v = _judged(s)
    if v is not None and v["brightness_p99"] < s.options.quality.dark:
        yield (
            f"very dark: even its brightest pixels reach only {v['brightness_p99']:.2f} of full brightness "
            f"(threshold {s.options.quality.dark:g})"
        )


def light(s: Sample) -> Iterator[str]:
    v = _judged(s)
    if v is not None and v["brightness_p01"] > s.options.quality.light:
        yield (
            f"very light (washed out): even its darkest pixels are at {v['brightness_p01']:.2f} of full brightness "
            f"(threshold {s.options.quality.light:g})"
        )


def blurry(s: Sample) -> Iterator[str]:
    v = _judged(s)
    # A flat image has no edges to judge (sharpness 0): low_information speaks for it.
    if v is not None and v["contrast"] > 0.02 and v["sharpness"] < s.options.quality.blurry:
        yield f"blurry: sharpness {v['sharpness']:.2f} (threshold {s.options.quality.blurry:g})"


def low_information(s: Sample) -> Iterator[str]:
    """Few gray levels over the whole frame, and no detailed subject either: a subject on a plain
    background (a flower on black velvet, a pet cut out on white) has a low entropy overall but
    carries `low_information` bits or more over `low_information_subject` of the frame or more."""
    v = _judged(s)
    if s.header.mode == "1":
        return  # two gray levels by construction (color_mode says 1-bit), whatever the picture
    q = s.options.quality
    if v is None or v["entropy"] >= q.low_information:
        return
    if v["content_share"] >= q.low_information_subject and v["content_entropy"] >= q.low_information:
        return
    yield (
        f"little information: its gray levels carry {v['entropy']:.1f} bits (threshold {q.low_information:g}), "
        f"and what is not its background covers {v['content_share']:.0%} of it; nearly blank or flat"
    )


def odd_aspect_ratio(s: Sample) -> Iterator[str]:
    w, h = s.header.width, s.header.height
    if s.properties is None or not w or not h:
        return
    ratio = min(w, h) / max(w, h)
    if ratio < s.options.quality.odd_aspect_ratio:
        yield f"{w}x{h}: {max(w, h) / min(w, h):.1f}:1, an odd aspect ratio (threshold {s.options.quality.odd_aspect_ratio:g})"


def grayscale(s: Sample) -> Iterator[str]:
    v = _judged(s)
    if v is None or s.header.mode in _GRAY_MODES:
        return  # a gray colour mode is reported by color_mode
    if v["colour_spread"] <= s.options.quality.grayscale:
        yield f"stored as colour ({s.header.mode}) but every pixel is gray: the colour channels carry nothing"

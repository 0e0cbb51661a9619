"""Whether a file's decode was damaged: what no conversion may hide.

`convert` fixes a photo stored in a form TensorFlow cannot read (a format, a colour model, an
orientation); re-encoding a damaged file instead launders it: Pillow's best effort at garbage
becomes a clean JPEG or PNG that `validate` then passes. So a file is damaged, and stays an
error for `clean` and a refusal for `convert` (unless `--force-damaged`), when its findings say
a decoder met damage rather than a form it lacks:

- `truncated`: the stream stops before its end marker;
- `corrupt_data`: libjpeg warned while decoding (bad Huffman code, extraneous bytes, ...);
- `pillow_decode`: Pillow's own decode failed;
- `tf_decode` with libjpeg's complaint attached: TensorFlow's libjpeg met corrupt data (a format
  TensorFlow lacks fails without a libjpeg message);
- `wrong_pixels` about the size, or about a JPEG's edges (both decoders are libjpeg-turbo: a colour
  model moves no edge): the decoders disagree about the picture itself, which no colour model
  explains. (Damage no decoder notices, such as a few flipped bits that still decode, stays
  invisible here as everywhere.)

Reads only the findings (a report or the result cache), so the rule is the same wherever it is
applied.
"""

from __future__ import annotations

from dataprep.inspection.checks.file_checks import EDGES_DISAGREE, LIBJPEG_SAID, SIZE_DISAGREES
from dataprep.inspection.checks.names import Check
from dataprep.inspection.report import FileResult

_ALWAYS_DAMAGE = frozenset({Check.TRUNCATED, Check.CORRUPT_DATA, Check.PILLOW_DECODE})
_SIZE_PREFIX = SIZE_DISAGREES.split("{", 1)[0]


def decode_damage(result: FileResult) -> list[str]:
    """What damaged this file's decode, one `check: detail` per finding; empty when nothing did."""
    found = []
    for f in result.findings:
        if (
            f.check in _ALWAYS_DAMAGE
            or (f.check == Check.TF_DECODE and LIBJPEG_SAID in f.detail)
            or (f.check == Check.WRONG_PIXELS and (f.detail.startswith(_SIZE_PREFIX) or EDGES_DISAGREE in f.detail))
        ):
            found.append(f"{f.check}: {f.detail}")
    return found

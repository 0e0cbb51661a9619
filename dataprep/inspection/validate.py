"""`validate`: check every file under a folder, reusing cached results for unchanged files.

One implementation: the streamed run (`dataprep.inspection.validate_stream`) walks the folder, inspects what
the cache lacks and adds the dataset findings (odd sizes, exact duplicates) in its run file on disk;
`validate()` reads the finished run back into one in-memory Report for the callers that want one
(clean, convert, split, duplicates, leakage). The per-file part is `dataprep.inspection.validate_files`.
"""

from __future__ import annotations

import os

from dataprep.inspection import validate_stream
from dataprep.inspection.report import Report
from dataprep.inspection.validate_files import ValidateOptions as ValidateOptions  # re-exported: where callers find it
from dataprep.inspection.validate_files import inspect_paths as inspect_paths
from dataprep.inspection.validate_files import inspect_scan as inspect_scan


def validate(root: str | os.PathLike[str], options: ValidateOptions | None = None) -> Report:
    """Check every file under `root` and return the report. Writes nothing under `root`."""
    streamed = validate_stream.validate_streamed(root, options or ValidateOptions(), keep_hashes=True)
    try:
        return streamed.to_report()
    finally:
        streamed.store.close()

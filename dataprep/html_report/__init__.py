"""`dataprep report`: one self-contained HTML page of every judgment about a dataset.

The report reads what the other commands computed (validate's cached results, the duplicate
groups they imply, a `trainer label-issues` list, an outliers list) and computes what is
missing and cheap (validate, hash and near duplicates). It writes a static folder that opens
from disk in any browser, with no server, no script and no network request:

    REPORT_DIR/index.html              summary, charts, one gallery per finding type
    REPORT_DIR/report.json             what was written (the `--json` document); marks the folder
    REPORT_DIR/report-files/thumbs/    small WebP thumbnails of the files shown
    REPORT_DIR/report-files/pages/     the rest of each long section, as paged static lists

Layers: `inputs` gathers the judgments, `sections` turns them into sections (one function
per section, one row per function in `SECTIONS`), `thumbs` and `charts` draw, `page` writes
HTML (every name and detail escaped), `output` places the folder.

Nothing is imported here: `dataprep.cli` imports `command` on every start, and the report's
machinery (validate, duplicates, Pillow) loads only when the command runs. The API:
`dataprep.html_report.inputs.gather_inputs`, then `dataprep.html_report.output.write_report`.
"""

"""`validate` and everything it is made of: walking a folder (`scan`), the check table (`checks`), the
one per-file inspection (`per_file`), the engines that run it (`engines` picks `local_engine` or
`ray_engine`), the result cache (`cache`), the streamed run file (`run_store`, `validate_stream`) and
the report model (`report`); `cli` declares the `dataprep validate` command.

Every stage above reads a folder through here: `validate()` is the one path, and dataset checks are
written once, in SQL, in `validate_stream`. A new per-file check is one function and one row in
`checks`.
"""

"""What every stage stands on: the one error type, the finding schema, every default, names shared by
the walker and the split, file formats, the crash-safe journal, the folder lock, the output-file rule,
the one TensorFlow decode and a quiet TensorFlow import.

Nothing here imports from another `dataprep` package: a module that needs `inspection`,
`duplicates` or `actions` belongs in that room, not here.
"""

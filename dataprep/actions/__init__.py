"""Everything that changes a user's dataset, and how to undo it.

`quarantine` is the record at the bottom: the folder beside the dataset with `manifest.json` and
`journal.jsonl`, its statuses and the safe-path rule. `clean`, `convert` and `relabel` write to it;
`restore` undoes each recorded action through its action -> undo table, so a new mutating command is
one module plus one row there.
"""

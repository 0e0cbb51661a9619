"""Everything that changes a user's dataset, and how to undo it.

`quarantine` is the record at the bottom: the folder beside the dataset with `manifest.json` and
`journal.jsonl`, its statuses and the safe-path rule. `clean`, `convert` (planned by
`convert_plan`) and `relabel` write to it; `restore` undoes each recorded action through its
action -> undo table, so a new mutating command is one module plus one row there. `cli` declares
the `clean`, `restore`, `relabel` and `convert` commands.
"""

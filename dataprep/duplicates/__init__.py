"""Copies of one photo: exact and near-duplicate groups and train/val/test leakage.

`hash_index` proposes pairs of perceptual hashes within a few bits, `similarity` verifies them on
thumbnails, `geometric_match` settles crops and rotations with local features, `pair_graph` turns
verified pairs into groups, `search` is the API (`search_duplicates`, `find_duplicates`,
`find_leaks`), `semantic` adds look-alikes found by embeddings, `ray_pairs` runs the pair
searches' parts as Ray tasks for `--engine ray`, `plot` draws the groups, and `cli`
declares the `duplicates` and `leakage` commands.
"""

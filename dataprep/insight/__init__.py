"""Looking at a dataset before training on it: `stats` (counts, shares, sizes, formats), `augment`
(the one definition of training augmentation, shared with the trainer) and `preview` (a grid of
real images, each augmented several times); `cli` declares `stats` and `augment-preview`.
"""

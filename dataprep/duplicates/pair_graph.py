"""The graph of verified duplicate pairs: connected sets (union-find) and the cliques that make
groups (every member verified with every other). Pure; used by `dataprep.duplicates.search`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class UnionFind:
    """Disjoint sets of 0..n-1; the root of a set is its smallest member (deterministic). Only the
    members of a union are stored: memory grows with the links, not with n."""

    def __init__(self, n: int = 0) -> None:
        self.n = n
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        path = []
        while (up := self.parent.get(x, x)) != x:
            path.append(x)
            x = up
        for p in path:
            self.parent[p] = x
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the root is the earliest file: deterministic

    def roots(self) -> np.ndarray:
        """Every member's root, as an array of n."""
        import numpy as np

        out = np.arange(self.n, dtype=np.int64)
        for x in list(self.parent):
            out[x] = self.find(x)
        return out


def maximal_cliques(nodes: list[int], adjacent: dict[int, set[int]]) -> list[list[int]]:
    """Every maximal clique of the graph on `nodes` (Bron-Kerbosch with a pivot), each sorted."""
    out: list[list[int]] = []

    def expand(r: list[int], p: set[int], x: set[int]) -> None:
        if not p and not x:
            out.append(sorted(r))
            return
        pivot = max(p | x, key=lambda u: len(adjacent[u] & p))
        for v in sorted(p - adjacent[pivot]):
            expand([*r, v], p & adjacent[v], x & adjacent[v])
            p = p - {v}
            x = x | {v}

    expand([], set(nodes), set())
    return out


def clique_cover(nodes: list[int], adjacent: dict[int, set[int]]) -> list[list[int]]:
    """Groups for one connected set of pairs, each a set of files that are all pairwise verified.

    The file with the most verified copies (usually the original the others were made from) is
    the centre: its largest clique first, then the largest clique of it and its copies not yet
    shown, until every copy of it is in a group with it. Files not verified with the centre are
    grouped the same way among themselves. A chain A~B~C gives {A, B} and {B, C}; fourteen edits
    of one photo give one big group with the photo, plus small ones with the photo for the edits
    that are not verified against every other edit."""
    out: list[list[int]] = []
    full = adjacent
    uncovered = set(nodes)
    while uncovered:
        centre = max(sorted(uncovered), key=lambda u: len(adjacent[u]))
        if not adjacent[centre]:
            uncovered.discard(centre)
            continue
        waiting = set(adjacent[centre])  # copies of the centre not yet in a group with it
        while waiting:
            sub = {u: adjacent[u] & waiting for u in waiting}
            clique = max(maximal_cliques(sorted(waiting), sub), key=lambda c: (len(c), [-k for k in c]))
            group = [centre, *clique]
            for v in sorted(nodes):  # grown to a maximal clique: files already shown join if verified with all
                if v not in group and all(v in full[m] for m in group):
                    group.append(v)
            out.append(sorted(group))
            waiting -= set(clique)
            uncovered -= set(clique)
        uncovered.discard(centre)
        for u in list(uncovered):  # what is left keeps only its links among the uncovered files
            adjacent = {**adjacent, u: adjacent[u] - {centre}}
    return out

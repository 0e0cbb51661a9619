"""Mutators for fuzzing validate: damaged variants of real images, deterministic from a seed.

Each mutator is a pure function `(data, rng) -> bytes` that damages an encoded image the way
disks, downloads and buggy tools do: truncation (at random offsets and exactly at structural
boundaries: JPEG marker segments, PNG chunks, GIF blocks), bit flips, inserted, deleted and
zeroed runs, a swapped magic number (one format's bytes under another's signature) and absurd
header dimensions. `mutate(data, seed)` picks and chains one to three of them, so the same
seed always gives the same mutant (`python tests/fuzz.py --out DIR` writes a corpus).
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

Mutator = Callable[[bytes, random.Random], bytes]

MAGICS = (
    b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"RIFF\x00\x00\x00\x00WEBP",
    b"II*\x00", b"\x00\x00\x00\x18ftypavif", b"\x00\x00\x00\x18ftypheic", b"%PDF-1.4", b"<html>",
)  # fmt: skip
ABSURD = (0, 1, 0x7FFF, 0xFFFF, 30_000, 65_500)  # header sizes decoders must survive


def boundaries(data: bytes) -> list[int]:
    """Offsets where the format's structure changes: JPEG marker segments, PNG chunk edges,
    GIF blocks (roughly), plus the very start and end. Truncating there is the nastiest cut:
    the parser sees a clean end of one structure and nothing after."""
    n = len(data)
    points = {0, 1, 2, n - 1, n - 2, n}
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 4 <= n and data[pos] == 0xFF:
            points.update((pos, pos + 1, pos + 2, pos + 4))
            marker = data[pos + 1]
            length = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if marker == 0xDA:  # start of scan: the entropy-coded data follows
                points.update(range(pos + 2 + length, min(n, pos + 2 + length + 3)))
                break
            pos += 2 + length
    elif data.startswith(b"\x89PNG"):
        pos = 8
        while pos + 8 <= n:
            length = int.from_bytes(data[pos : pos + 4], "big")
            points.update((pos, pos + 4, pos + 8, pos + 8 + length, pos + 12 + length - 1))
            pos += 12 + length
    elif data[:3] == b"GIF":
        points.update((6, 10, 13))
        points.update(i for i, b in enumerate(data) if b in (0x21, 0x2C, 0x3B) and i > 12)
    return sorted(p for p in points if 0 <= p <= n)


def truncate_random(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def truncate_at_boundary(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.choice(boundaries(data))]


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 4, 16))):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def flip_header_bits(data: bytes, rng: random.Random) -> bytes:
    """Bit flips in the first 64 bytes, where one wrong bit changes the meaning of everything."""
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.choice((1, 2, 3))):
        i = rng.randrange(min(64, len(out)))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def insert_run(data: bytes, rng: random.Random) -> bytes:
    i = rng.randrange(len(data) + 1)
    k = rng.choice((1, 2, 7, 64, 512))
    fill = bytes(rng.randrange(256) for _ in range(k)) if rng.random() < 0.5 else bytes([rng.choice((0, 0xFF))]) * k
    return data[:i] + fill + data[i:]


def delete_run(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    return data[:i] + data[i + rng.choice((1, 2, 16, 200)) :]


def zero_run(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    i = rng.randrange(len(data))
    k = rng.choice((1, 4, 32, 256, len(data)))
    return data[:i] + bytes(min(k, len(data) - i)) + data[i + k :]


def swap_magic(data: bytes, rng: random.Random) -> bytes:
    """Another format's signature over the first bytes (a PNG that starts like a JPEG...)."""
    magic = rng.choice(MAGICS)
    return magic + data[len(magic) :] if rng.random() < 0.7 else magic + data


def absurd_dimensions(data: bytes, rng: random.Random) -> bytes:
    """Rewrite the width and height the header claims (JPEG SOF, PNG IHDR with a fixed CRC,
    GIF screen and first frame, BMP, WebP VP8/VP8L) to something absurd: 0, 1, 65535, 30000."""
    w, h = rng.choice(ABSURD), rng.choice(ABSURD)
    out = bytearray(data)
    if data.startswith(b"\xff\xd8"):
        pos = 2
        while pos + 9 <= len(out) and out[pos] == 0xFF:
            marker = out[pos + 1]
            if marker in (0xC0, 0xC1, 0xC2):
                out[pos + 5 : pos + 9] = struct.pack(">HH", h, w)
                break
            pos += 2 + int.from_bytes(out[pos + 2 : pos + 4], "big")
    elif data.startswith(b"\x89PNG") and len(out) >= 33:
        out[16:24] = struct.pack(">II", w if rng.random() < 0.8 else 0x7FFFFFFF, h)
        out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    elif data[:3] == b"GIF" and len(out) >= 10:
        out[6:10] = struct.pack("<HH", w, h)
        first = data.find(b"\x2c", 13)
        if first > 0 and first + 9 <= len(out) and rng.random() < 0.5:
            out[first + 5 : first + 9] = struct.pack("<HH", w, h)
    elif data[:2] == b"BM" and len(out) >= 26:
        out[18:26] = struct.pack("<ii", w, -h if rng.random() < 0.3 else h)
    elif data[:4] == b"RIFF" and len(out) >= 30:
        if data[12:16] == b"VP8 ":
            out[26:30] = struct.pack("<HH", w & 0x3FFF, h & 0x3FFF)
        elif data[12:16] == b"VP8L":
            bits = ((w - 1) & 0x3FFF) | (((h - 1) & 0x3FFF) << 14)
            out[21:25] = struct.pack("<I", bits | (int.from_bytes(out[21:25], "little") & 0xF0000000))
    return bytes(out)


MUTATORS: dict[str, Mutator] = {
    "truncate_random": truncate_random,
    "truncate_at_boundary": truncate_at_boundary,
    "flip_bits": flip_bits,
    "flip_header_bits": flip_header_bits,
    "insert_run": insert_run,
    "delete_run": delete_run,
    "zero_run": zero_run,
    "swap_magic": swap_magic,
    "absurd_dimensions": absurd_dimensions,
}


def apply(data: bytes, names: list[str], seed: int) -> bytes:
    """`data` through the named mutators in order, their random choices fixed by `seed`."""
    rng = random.Random(seed)
    for name in names:
        data = MUTATORS[name](data, rng)
    return data


def mutate(data: bytes, seed: int) -> tuple[bytes, list[str]]:
    """One mutant of `data` and the names of the mutators applied (1 to 3), fixed by `seed`."""
    rng = random.Random(seed)
    names = [rng.choice(sorted(MUTATORS)) for _ in range(rng.choice((1, 1, 2, 3)))]
    for name in names:
        data = MUTATORS[name](data, rng)
    return data, names


def seed_images() -> dict[str, bytes]:
    """The images mutants start from: the zoo's decodable files and a few demo photos."""
    root = Path(__file__).resolve().parent.parent / "fixtures"
    zoo = root / "zoo" / "zoo"
    names = [
        "valid_baseline.jpg", "valid_progressive.jpg", "valid.png", "valid.gif", "valid_24bit.bmp", "valid.webp",
        "exif_no_jfif.jpg", "cmyk.jpg", "grayscale.jpg", "gray_alpha.png", "animated.gif", "palette_8bit.bmp",
    ]  # fmt: skip
    seeds = {name: (zoo / name).read_bytes() for name in names}
    seeds["demo_circle.jpg"] = (root / "demo" / "circle" / "circle_001.jpg").read_bytes()
    seeds["demo_circle.png"] = (root / "demo" / "circle" / "circle_007.png").read_bytes()
    return seeds


def write_corpus(out: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` mutants under OUT/fuzz/ (one class folder), named after seed image, seed and mutators."""
    images = seed_images()
    keys = sorted(images)
    folder = out / "fuzz"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        name = keys[(seed + i) % len(keys)]
        data, how = mutate(images[name], seed * 1_000_003 + i)
        stem, ext = name.rsplit(".", 1)
        path = folder / f"{i:05d}-{stem}-{'+'.join(how)}.{ext}"
        path.write_bytes(data)
        paths.append(path)
    return paths


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write a corpus of mutated images for fuzzing validate.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(len(write_corpus(args.out, args.count, args.seed)), "mutants written to", args.out / "fuzz")

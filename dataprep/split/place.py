"""One placer per mode: how one planned file gets to its place under OUT, crash-safely.

Each placer puts a file at its destination so that the destination is either absent or
complete (copies go to a temporary name, then are renamed; links are made in one step), says
whether it was already in place (a resumed run), and turns an OS error into one clear line.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from dataprep.base.errors import DataprepError
from dataprep.base.journal import TMP_PREFIX, crash_point, reconcile_move, sha256_file
from dataprep.split.plan import Assignment

_LINUX = sys.platform.startswith("linux")


def _copy_bytes(src: str, dst: str, st: os.stat_result) -> None:
    """Copy bytes and modification time. On Linux: raw descriptors and sendfile, in the kernel,
    without the extra stats `shutil.copyfile` makes (this runs once per image)."""
    if not _LINUX:
        shutil.copyfile(src, dst)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        return
    fin = os.open(src, os.O_RDONLY)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, st.st_mode & 0o777 or 0o644)
        try:
            while os.sendfile(fout, fin, None, 1 << 30) > 0:
                pass
            os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def _check_source(src: str, a: Assignment) -> os.stat_result:
    """A resumed copy must copy what was planned: the source must still exist with its size."""
    try:
        st = os.stat(src)
    except OSError:
        raise DataprepError(
            f"source '{a.source}' is gone from RAW since the split started; restore it, or start over with --force"
        ) from None
    if st.st_size != a.size:
        raise DataprepError(
            f"source '{a.source}' changed since the split started ({a.size} -> {st.st_size} bytes); start over with --force"
        )
    return st


def write_error(err: OSError, a: Assignment, out: Path, mode: str) -> DataprepError:
    """One line for a file that could not be placed. The split stays resumable: split.json and
    the journal say what is done, the file in flight is absent or complete, never partial."""
    resume = "re-run the same command with --resume to finish"
    if err.errno == errno.EXDEV:
        return DataprepError(
            f"cannot {mode} '{a.source}' across filesystems (RAW and '{out}' are on different disks); "
            "start over with --mode copy --force, or put OUT on RAW's disk and " + resume
        )
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataprepError(
            f"disk full while writing '{a.dest}' into '{out}' ({err.strerror}); free some space, then {resume}"
        )
    return DataprepError(f"cannot write '{a.dest}' into '{out}': {err.strerror or err}; fix that, then {resume}")


@dataclass(frozen=True)
class Placer:
    """Places files from RAW into OUT. `place` returns True when it wrote the file now, False
    when the file was already in place (`journaled`: a previous run logged it as done)."""

    raw: Path
    out: Path
    mode: str = "copy"

    def place(self, a: Assignment, journaled: bool, fresh: bool = False) -> bool:
        src, dst = os.path.join(self.raw, a.source), os.path.join(self.out, a.dest)
        if not fresh and os.path.lexists(dst) and self.in_place(src, dst, a, journaled):
            return False
        st = _check_source(src, a)
        parent, name = os.path.split(dst)
        tmp = os.path.join(parent, TMP_PREFIX + name)
        try:
            self.put(src, dst, tmp, st)
        except OSError as err:
            if os.path.lexists(tmp):
                os.unlink(tmp)  # a partial copy never stays behind (resume would remove it too)
            raise write_error(err, a, self.out, self.mode) from None
        crash_point()  # the kill tests' hook: one file operation done
        return True

    def put(self, src: str, dst: str, tmp: str, st: os.stat_result) -> None:
        """Make `dst` (replacing what is there) so that it is either absent or complete."""
        raise NotImplementedError

    def in_place(self, src: str, dst: str, a: Assignment, journaled: bool) -> bool:
        """Whether an existing `dst` already holds what the plan puts there (a resumed run)."""
        if os.path.islink(dst):
            return False
        try:
            if os.path.getsize(dst) != a.size:
                return False
        except OSError:
            return False
        return journaled or sha256_file(Path(dst)) == a.sha256


class CopyPlacer(Placer):
    def put(self, src: str, dst: str, tmp: str, st: os.stat_result) -> None:
        _copy_bytes(src, tmp, st)
        os.replace(tmp, dst)


class HardlinkPlacer(Placer):
    def put(self, src: str, dst: str, tmp: str, st: os.stat_result) -> None:
        try:
            os.link(src, dst)
        except FileExistsError:
            os.link(src, tmp)
            os.replace(tmp, dst)

    def in_place(self, src: str, dst: str, a: Assignment, journaled: bool) -> bool:
        if os.path.islink(dst):
            return False
        try:
            return os.path.samefile(src, dst)
        except OSError:
            return False


class SymlinkPlacer(Placer):
    def put(self, src: str, dst: str, tmp: str, st: os.stat_result) -> None:
        try:
            os.symlink(src, dst)
        except FileExistsError:
            os.symlink(src, tmp)
            os.replace(tmp, dst)

    def in_place(self, src: str, dst: str, a: Assignment, journaled: bool) -> bool:
        return os.path.islink(dst) and os.readlink(dst) == src


class MovePlacer(Placer):
    """Moves look at both ends: a source gone with its destination present is done
    (`dataprep.base.journal.reconcile_move`), so a move never needs a journal entry to resume."""

    def place(self, a: Assignment, journaled: bool, fresh: bool = False) -> bool:
        src, dst = os.path.join(self.raw, a.source), os.path.join(self.out, a.dest)
        state = reconcile_move(Path(src), Path(dst), a.sha256)
        if state == "missing":
            raise DataprepError(
                f"'{a.source}' is neither in RAW nor at '{a.dest}' in OUT; it was moved or deleted "
                "outside dataprep. Put it back and re-run with --resume"
            )
        if state != "pending":
            return False
        _check_source(src, a)
        try:
            self.put(src, dst, os.path.join(os.path.dirname(dst), TMP_PREFIX + os.path.basename(dst)), os.stat(src))
        except OSError as err:
            raise write_error(err, a, self.out, self.mode) from None
        crash_point()
        return True

    def put(self, src: str, dst: str, tmp: str, st: os.stat_result) -> None:
        """Rename on one filesystem; across filesystems an atomic copy, then unlink the source."""
        try:
            os.rename(src, dst)
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
            # A kill between the copy and the unlink leaves two identical files: reconcile_move
            # removes the source on resume.
            _copy_bytes(src, tmp, st)
            os.replace(tmp, dst)
            os.unlink(src)


PLACERS: dict[str, type[Placer]] = {
    "copy": CopyPlacer,
    "hardlink": HardlinkPlacer,
    "symlink": SymlinkPlacer,
    "move": MovePlacer,
    "folds": CopyPlacer,  # only the held-out test split is placed (execute_split); the folds stay in RAW
}


def placer_for(mode: str, raw: Path, out: Path) -> Placer:
    return PLACERS[mode](raw, out, mode)

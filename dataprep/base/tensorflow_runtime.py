"""Importing TensorFlow quietly, and capturing what C libraries write to stderr.

TensorFlow prints a screenful of absl/CUDA start-up lines on import; libjpeg prints its
"Corrupt JPEG data" warnings with C stdio. Both go to file descriptor 2, which Python's
sys.stderr never sees, so capturing them means redirecting the descriptor itself.
"""

from __future__ import annotations

import io
import os
import re
import sys
import tempfile
from typing import IO, Any

_TF: Any = None
_DECODE_ONLY_PROCESS = False
# TensorFlow's own log lines ("E0000 00:00:... file.cc:12] ..."), as opposed to libjpeg's.
TF_LOG_LINE = re.compile(r"^\s*[IWEF]\d{4} ")


def import_tensorflow() -> Any:
    """Import TensorFlow once per process without its start-up noise; if the import fails,
    what it printed is shown after all."""
    global _TF
    if _TF is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with CapturedStderr(keep_tf_logs=True) as captured:
            try:
                import tensorflow as tf

                tf.config.list_physical_devices()  # device discovery logs its CUDA probing here
            except BaseException:
                captured.replay_on_exit = True
                raise
        _TF = tf
    return _TF


def mark_decode_only_process() -> None:
    """Say that this process (a validate worker) only decodes: when it first needs TensorFlow,
    `import_tensorflow_for_decoding` hides the GPUs from it. Imports nothing."""
    global _DECODE_ONLY_PROCESS
    _DECODE_ONLY_PROCESS = True


def import_tensorflow_for_decoding() -> Any:
    """TensorFlow for decoding files, imported on first use and then reused.

    TensorFlow's package init also imports Keras (about a fifth of its import time), which
    decoding does not need: it is kept out of the import when nothing has loaded it yet (a
    later `import keras` still works). In a process marked decode-only, GPUs are hidden:
    decoding runs on the CPU, and a worker must not reserve GPU memory that training needs.
    """
    if _TF is not None:
        return _TF
    blocked = "keras" not in sys.modules
    if blocked:
        sys.modules["keras"] = None  # type: ignore[assignment]
    try:
        tf = import_tensorflow()
    except ImportError:
        if not blocked:
            raise
        del sys.modules["keras"]
        blocked = False
        tf = import_tensorflow()
    finally:
        if blocked and sys.modules.get("keras", 0) is None:
            del sys.modules["keras"]
    if _DECODE_ONLY_PROCESS:
        tf.config.set_visible_devices([], "GPU")
    return tf


class CapturedStderr:
    """Capture what C code writes to file descriptor 2 during a block, as `lines`.

    One temporary file per process is reused: opening one per decode would cost more than
    the decode of a small photo. TensorFlow's log lines are dropped unless `keep_tf_logs`.
    """

    _file: Any = None

    def __init__(self, keep_tf_logs: bool = False) -> None:
        self.keep_tf_logs = keep_tf_logs
        self.replay_on_exit = False
        self.lines: list[str] = []

    def __enter__(self) -> CapturedStderr:
        sys.stderr.flush()
        if CapturedStderr._file is None:
            CapturedStderr._file = tempfile.TemporaryFile()
        self._tmp = CapturedStderr._file
        self._tmp.seek(0)
        self._tmp.truncate()
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        if os.fstat(self._tmp.fileno()).st_size:
            self._tmp.seek(0)
            text = self._tmp.read().decode("utf-8", "replace")
            self.lines = [
                ln.strip()
                for ln in text.splitlines()
                if ln.strip() and (self.keep_tf_logs or not TF_LOG_LINE.match(ln))
            ]
            if self.replay_on_exit:
                sys.stderr.write(text)


def tf_error_message(err: BaseException) -> str:
    """The first line of a TensorFlow error without its graph-node decoration."""
    message = getattr(err, "message", None) or str(err)
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    first = lines[0] if lines else type(err).__name__
    first = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", first)
    return first.split("[Op:")[0].strip().rstrip(".") or type(err).__name__


# What the image decoders' C libraries write on their own (libjpeg's warnings have no prefix).
_DECODER_LINE = re.compile(
    r"(JPEG|jpeg|libpng|PNG|TIFF|tiff|GIF|BMP|WebP|webp|Huffman|marker|SOS|DQT|DHT|extraneous bytes|"
    r"Premature end|Corrupt|Invalid|Improper call|Ignoring error|function_node|Input file read error|"
    r"Empty input file|Bogus|Unsupported|Quantization|Suspension|read error|"
    # libtiff (through Pillow) names a module or the file: "LZWDecode: ...", "tempfile.tif: ..."
    r"^\w*(Decode|Encode|Fetch|Read|Fill)\w*: |^\S+\.tiff?: )"
)


class DecoderMessages:
    """Capture file descriptor 2 for a whole command: what the image decoders and TensorFlow
    print there (libjpeg's "Premature end of JPEG data", libtiff warnings, TensorFlow's
    "E0000 ..." lines) is counted for one summary line instead of reaching the console; any
    other line C code writes there is written out at the end. Python's own writes to sys.stderr
    (a progress bar, a warning, a traceback under --debug) reach it as they happen.
    """

    def __init__(self) -> None:
        self.decoder_lines: list[str] = []

    def __enter__(self) -> DecoderMessages:
        # Its own file, not CapturedStderr's shared one: per-file captures nest inside this one.
        sys.stderr.flush()
        self._python_stderr = sys.stderr
        try:
            self._tmp: IO[bytes] | None = tempfile.TemporaryFile()
        except OSError:
            # No writable temp folder: decoder lines go to stderr as written, and the command's own
            # temp files (validate's run file) say in one line what to fix.
            self._tmp = None
            return self
        self._saved = os.dup(2)
        if _writes_to_fd(sys.stderr, 2):
            # Python's own writes (a progress bar, Keras' progress lines) keep reaching the
            # terminal as they happen: only what C code writes to descriptor 2 is captured.
            sys.stderr = io.TextIOWrapper(
                io.FileIO(self._saved, "w", closefd=False), encoding=sys.stderr.encoding,
                errors=sys.stderr.errors, line_buffering=True, write_through=True,
            )  # fmt: skip
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        if self._tmp is None:
            return
        if sys.stderr is not self._python_stderr:
            wrapper, sys.stderr = sys.stderr, self._python_stderr
            if isinstance(wrapper, io.TextIOWrapper):
                wrapper.detach()  # over the saved descriptor, which is closed below
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        other: list[str] = []
        raw = os.environ.get("DATAPREP_DEBUG") == "1"  # --debug: every line as the libraries wrote it
        for line in text.splitlines():
            if line.strip():
                noise = not raw and (TF_LOG_LINE.match(line) or _DECODER_LINE.search(line))
                (self.decoder_lines if noise else other).append(line)
        if other:
            sys.stderr.write("\n".join(other) + "\n")
            sys.stderr.flush()

    @property
    def count(self) -> int:
        return len(self.decoder_lines)

    def summary(self) -> str:
        """One line: how many messages, and the most frequent one without TensorFlow's decoration."""
        from collections import Counter

        def plain(line: str) -> str:
            line = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", line)
            return re.sub(r"^\s*[IWEF]\d{4} [\d:. ]+\S+\] ", "", line).strip()

        common, _ = Counter(plain(ln) for ln in self.decoder_lines).most_common(1)[0]
        return f"the image decoders reported {self.count} warning(s), most often {common!r}"


def _writes_to_fd(stream: Any, fd: int) -> bool:
    try:
        return bool(stream.fileno() == fd)
    except (AttributeError, OSError, ValueError):  # a StringIO (tests), a closed stream
        return False


def decoder_messages() -> DecoderMessages:
    """A `DecoderMessages` capture, for ``with decoder_messages() as noise: ...``."""
    return DecoderMessages()

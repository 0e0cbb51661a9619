"""The one domain exception. The CLI turns it into one line on stderr and an exit code."""

from __future__ import annotations


class DataprepError(Exception):
    """A problem with the user's input or request.

    The message is one line that names what was received, what was expected and the fix,
    e.g. ``no such directory: 'raw/' (expected a folder of class folders); check the path``.
    """

    exit_code: int = 2
    prefix: str = "error"  # the word the one-line message starts with

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C


class Interrupted(DataprepError):
    """The user pressed Ctrl-C (SIGINT) or the process got SIGTERM: a normal ending, not a failure.

    The message says what was done and the exact command that continues the work; the CLI
    prints it as one line and exits 130. Everything finished before the interrupt is kept.
    """

    prefix = "interrupted"
    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=EXIT_INTERRUPTED)

"""The one domain exception. The CLI turns it into one line on stderr and an exit code."""

from __future__ import annotations


class DataprepError(Exception):
    """A problem with the user's input or request.

    The message is one line that names what was received, what was expected and the fix,
    e.g. ``no such directory: 'raw/' (expected a folder of class folders); check the path``.
    """

    exit_code: int = 2

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Interrupted(DataprepError):
    """The user stopped a run (Ctrl-C or SIGTERM). Work finished before it is kept."""

    exit_code = 130

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=130)

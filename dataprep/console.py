"""What every command line of the project shares: one-line errors, exit codes, --debug.

`CommandApp` is a Typer app whose commands turn a DataprepError into one line on stderr and
the error's exit code (2 by default): no traceback unless --debug. `run_app` does the same for
usage errors (unknown option, bad value), which Typer would otherwise print as a block.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer

from dataprep.base.errors import DataprepError, Interrupted

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = Interrupted.exit_code  # 128 + SIGINT, as shells report Ctrl-C
DEBUG_ENV = "DATAPREP_DEBUG"

F = TypeVar("F", bound=Callable[..., Any])

# Typer vendors click in recent versions and re-exports only some of its exceptions; find
# UsageError through BadParameter so both vendored and plain click work.
_UsageError: type[Exception] = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV) == "1"


def print_error(message: str, prefix: str = "error") -> None:
    print(f"{prefix}: {message}", file=sys.stderr)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit with `code`."""
    print_error(message)
    raise SystemExit(code)


def one_line_errors(fn: F) -> F:
    """Turn a DataprepError raised by a command into one line on stderr and its exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DataprepError as err:
            if debug_enabled():
                raise
            print_error(str(err), err.prefix)
            raise typer.Exit(err.exit_code) from None
        except BrokenPipeError:
            raise
        except EOFError as err:
            # Click turns an EOFError that leaves a command into Abort, which reads as Ctrl-C (exit
            # 130) and hides the traceback even with --debug; it is an input that ended early.
            if debug_enabled():
                import traceback

                traceback.print_exc()
            print_error(f"unexpected end of data (EOFError: {err}); re-run with --debug for where it happened")
            raise typer.Exit(EXIT_USAGE) from None
        except OSError as err:
            # The disk, not the user: disk full, permission denied, I/O error. The journaled
            # commands stop with every file whole, so the same command re-run finishes the job.
            if debug_enabled():
                raise
            print_error(os_error_line(err))
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper  # type: ignore[return-value]


def os_error_line(err: OSError) -> str:
    """One line for an OSError: what failed, on which file, and what to do."""
    where = f": '{err.filename}'" if err.filename is not None else ""
    return f"{err.strerror or type(err).__name__}{where} (the command stopped there; fix the cause and re-run it)"


def tolerate_undecodable_names() -> None:
    """File names may hold bytes that are not UTF-8 (Python keeps them as lone surrogates):
    print them as backslash escapes instead of dying with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


@contextlib.contextmanager
def decoder_note(hint: str) -> Iterator[None]:
    """Around a command's work: what the image decoders' C libraries write to stderr (libjpeg,
    libpng, libtiff, TensorFlow's decode ops), in this process and in the workers it starts,
    becomes one ``note:`` line at the end, ending with `hint`; any other line is shown as usual,
    and --debug shows every line as the libraries wrote it."""
    from dataprep.base.tensorflow_runtime import decoder_messages

    with decoder_messages() as noise:
        yield
    if noise.count:
        print(f"note: {noise.summary()}; {hint}", file=sys.stderr)


def validate_hint(data: Path | list[Path]) -> str:
    """The note's hint for a command that reads images: validate names the files behind it."""
    first = data if isinstance(data, Path) else data[0]
    folder = first if first.is_dir() else first.parent
    return f"'dataprep validate {folder}' lists the files"


def print_json(obj: object) -> None:
    """A report as indented JSON on stdout, streamed: `json.dumps(indent=...)` of 100k files'
    findings would first build a string of hundreds of megabytes (measured: +400 MB)."""
    import json

    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


@contextlib.contextmanager
def on_interrupt(message: str) -> Iterator[None]:
    """Ctrl-C inside the block: one line saying what was kept and what to run, exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(message) from None


class CommandApp(typer.Typer):
    """A Typer app whose every command has one-line errors and, given `version`, a
    ``--version`` that prints `version()` and exits."""

    def __init__(self, *, version: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if version is None:
            return

        def print_version(value: bool) -> None:
            if value:
                print(version())
                raise typer.Exit()

        def root(
            show_version: bool = typer.Option(
                False, "--version", callback=print_version, is_eager=True, help="Print the version and exit."
            ),
        ) -> None:
            pass  # the app's options only: each command does the work

        self.callback()(root)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:  # type: ignore[override]
        register = super().command(*args, **kwargs)

        def decorator(fn: F) -> F:
            register(one_line_errors(fn))
            return fn

        return decorator


def _terminate_as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm_like_ctrl_c() -> None:
    """SIGTERM (what `kill` and schedulers send) ends a command the way Ctrl-C does: journaled
    work kept, one line naming what continues it, exit 130. Only in this process: validate's
    pool workers are started by a fork server and keep the default handler."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)


def only_the_command(app: typer.Typer, args: list[str]) -> typer.Typer:
    """`app` with only the command `args` name (its callback and settings kept): Typer reads every
    registered command's type hints and builds its parameters before it runs one, a fixed cost of
    every start that grows with the commands. The whole app when `args` name no single command
    (top-level help, --version, a misspelt command, which Typer then answers as usual)."""
    import copy

    if not args or args[0].startswith("-"):
        return app
    named = [c for c in app.registered_commands if _command_name(c) == args[0]]
    if len(named) != 1 or app.registered_callback is None:  # without a callback one command is the whole app
        return app
    narrowed = copy.copy(app)
    narrowed.registered_commands = named
    return narrowed


def _command_name(info: Any) -> str | None:
    name = info.name or getattr(info.callback, "__name__", None)
    return None if name is None else str(name).lower().replace("_", "-")


def run_app(app: typer.Typer, prog: str, argv: list[str] | None = None) -> None:
    """Run `app` as the program `prog` and exit with its code."""
    stop_on_sigterm_like_ctrl_c()
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args.remove("--debug")
        os.environ[DEBUG_ENV] = "1"
    debug = debug_enabled()
    tolerate_undecodable_names()
    try:
        result = only_the_command(app, args)(args=args, prog_name=prog, standalone_mode=False)
    except _UsageError as err:
        if type(err).__name__ == "NoArgsIsHelpError":
            ctx = getattr(err, "ctx", None)
            print(ctx.get_help() if ctx is not None else str(err))
            raise SystemExit(EXIT_USAGE) from None
        if debug:
            raise
        ctx = getattr(err, "ctx", None)
        command = ctx.command_path if ctx is not None else prog
        fail(f"{err.format_message()} (see '{command} --help')", EXIT_USAGE)  # type: ignore[attr-defined]
    except DataprepError as err:  # raised outside a command, e.g. in a callback
        if debug:
            raise
        print_error(str(err), err.prefix)
        raise SystemExit(err.exit_code) from None
    except typer.Abort:
        fail("aborted", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        fail("interrupted; re-run the same command to finish (work done so far is kept)", EXIT_INTERRUPTED)
    except BrokenPipeError:
        raise SystemExit(EXIT_OK) from None
    raise SystemExit(result if isinstance(result, int) else EXIT_OK)

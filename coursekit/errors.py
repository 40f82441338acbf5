"""One exception type for every failure the kit expects and explains, and the one place that turns it into an exit.

    sys.exit(run_command(main, args))      # in every command: expected failures become a message and a status

Exit status: 0 success; 1 a failure explained in plain words; 130 stopped by Ctrl-C, SIGTERM (an IDE's stop button,
`kill`) or SIGHUP (its terminal closed), which are all handled the same way: the program stops where it is, removes
its temporary files, says what it kept, and exits.
"""

import errno
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

INTERRUPTED = 130  # the status shells give a program stopped by Ctrl-C (128 + SIGINT)
# A second Ctrl-C this soon after the first is the same impatient press: the kit is already stopping and cleaning up.
SECOND_PRESS_SECONDS = 2.0


class KitError(Exception):
    """A failure explained in plain words: the command prints the message (no traceback) and exits 1."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, as Ctrl-C raises KeyboardInterrupt. A subclass of it, so
    that every `except KeyboardInterrupt` that keeps a model or removes a temporary file works for them too."""


STOP_SIGNALS = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM (a stop button, or kill)"}
if hasattr(signal, "SIGHUP"):  # not on Windows
    STOP_SIGNALS[signal.SIGHUP] = "SIGHUP (its terminal was closed)"

# OSErrors that say something about this computer, not about a bug in the kit: a message, not a traceback.
ADVICE_FOR = {
    errno.ENOSPC: "The disk is full: free some space, or choose a folder on another disk.",
    errno.EDQUOT: "Your disk quota is used up: free some space, or choose a folder on another disk.",
    errno.EROFS: "That place is read-only: choose a folder you can write to.",
    errno.EACCES: "You may not write there: choose a folder you can write to.",
    errno.EPERM: "You may not write there: choose a folder you can write to.",
    errno.ENAMETOOLONG: "Choose a shorter name or folder.",
    errno.ELOOP: "A symbolic link there points back to itself: fix or remove it.",
    errno.EIO: "The disk or the terminal reported an input/output error.",
}


def run_command(main, *args):
    """Call main(*args) and return its exit status; expected failures become a message and a status, not a traceback.

    KitError: its message on stderr, status 1.  Ctrl-C, SIGTERM, SIGHUP: status 130 (main has said what was kept).
    Out of memory, a full or read-only disk: a message, status 1.  A closed pipe (output piped into `head`): status
    1, quietly.  exit() called in a student's model.py: a message naming its line, status 1.
    """
    with stop_signals_handled():
        try:
            status = main(*args) or 0
            if sys.stdout is not None:  # None: started with stdout closed (`>&-`), and print() writes nothing
                sys.stdout.flush()  # a closed pipe shows here, inside the try, rather than in Python's last flush
            return status
        except KitError as error:
            print_error(f"\n{error}")
            return 1
        except KeyboardInterrupt as stop:
            print_error(f"\nStopped by {stop}." if isinstance(stop, Terminated) else "\nInterrupted.")
            return INTERRUPTED
        except BrokenPipeError:  # output piped into a program that stopped reading, e.g. `| head`
            silence_stdout()
            return 1
        except MemoryError as error:
            print_error(f"\nOut of memory: {str(error) or 'MemoryError'}.\nThe sizes asked for need more memory "
                        "than this computer can give: try smaller ones (for training: --hidden_dims, --batch_size).")
            return 1
        except OSError as error:
            if error.errno not in ADVICE_FOR:
                raise  # not the disk or the system: a bug in the kit, keep the traceback
            print_error(f"\n{describe_os_error(error)}")
            return 1
        except SystemExit as exit_call:
            from .student_code import student_exit_message  # here: student_code itself imports this module

            message = student_exit_message(exit_call)
            if message is None:
                raise  # the kit's own exit, or Python's
            print_error(f"\n{message}")
            return 1


def describe_os_error(error):
    """'Cannot use model/x.npz: No space left on device. The disk is full: ...' for an OSError from the system."""
    where = f"Cannot use {error.filename}: " if error.filename else ""
    return f"{where}{error.strerror or error}. {ADVICE_FOR.get(error.errno, '')}".strip()


def print_error(text):
    """Print text on stderr; if stderr is gone (its terminal closed), there is no one left to tell."""
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:
        pass  # nowhere to write: the exit status still tells


def silence_stdout():
    """Point stdout at the null device, so that Python's final flush of what is still buffered stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout has no file descriptor (a test's capture): nothing buffered to lose
        sys.stdout = open(os.devnull, "w")  # open until the program ends


# ---------------------------------------------------------------------------------------------------- signals


class _StopState:
    """What the stop-signal handler needs to know; signals only ever reach the main thread."""

    deferring = 0  # how many interrupts_deferred() blocks the main thread is in
    pending = None  # a signal number held back until they end
    stopping_since = None  # time.monotonic() when a stop signal was raised


def stop_exception(signum):
    """The exception a stop signal raises: KeyboardInterrupt for Ctrl-C, Terminated for the others."""
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(STOP_SIGNALS.get(signum, f"signal {signum}"))


def _on_stop_signal(signum, frame):
    state = _StopState
    now = time.monotonic()
    if state.stopping_since is not None and now - state.stopping_since < SECOND_PRESS_SECONDS:
        return  # pressed twice: the first is already stopping the program and cleaning up
    if state.deferring:
        state.pending = signum
        return
    state.stopping_since = now
    raise stop_exception(signum)


@contextmanager
def stop_signals_handled():
    """Inside the block, Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt (or Terminated) where the program is, a
    second press right after the first is ignored while the program stops, and interrupts_deferred() works.
    Signals a parent asked to ignore (nohup, a background job) stay ignored. Only the main thread gets signals."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not signal.SIG_IGN:
            previous[signum] = signal.signal(signum, _on_stop_signal)
    _StopState.deferring, _StopState.pending, _StopState.stopping_since = 0, None, None
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def interrupts_deferred():
    """A stop signal arriving inside the block takes effect when the block ends: for the few steps that must not be
    cut in two, such as renaming a finished file and noting that it is saved, or removing a temporary file.
    Has an effect in the main thread under stop_signals_handled() (run_command); elsewhere it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _StopState
    state.deferring += 1
    try:
        yield
    finally:
        state.deferring -= 1
        if not state.deferring and state.pending is not None:
            signum, state.pending = state.pending, None
            state.stopping_since = time.monotonic()
            raise stop_exception(signum)


def _quiet_interrupt_hook(exc_type, exc, traceback):
    """Ctrl-C before run_command has started (while Python loads NumPy and Matplotlib, a second or so) or after it
    has ended: one word instead of a traceback of import machinery. Other uncaught exceptions are shown as usual."""
    if issubclass(exc_type, KeyboardInterrupt):
        print_error("\nInterrupted.")
        return  # Python then ends the program as Ctrl-C would (status 130 in a shell)
    _previous_hook(exc_type, exc, traceback)


_previous_hook = sys.excepthook
sys.excepthook = _quiet_interrupt_hook

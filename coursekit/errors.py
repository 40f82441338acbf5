"""KitError, a failure explained in plain words, and run_command, the one place that turns failures into an exit
status: sys.exit(run_command(main, args)) exits 0 on success, 1 for a failure explained, 130 stopped by a signal."""

import errno
import os
import signal
import sys
import time
from contextlib import contextmanager

from .i18n import say

INTERRUPTED = 130  # the status shells give a program stopped by Ctrl-C (128 + SIGINT)
SECOND_PRESS_SECONDS = 2.0  # a second Ctrl-C this soon is the same impatient press: the program is already stopping


class KitError(Exception):
    """A failure explained in plain words: the command prints the message (no traceback) and exits 1."""


def stop_signals():
    """{signal number: what sends it} for the signals that stop a run; SIGHUP and SIGBREAK exist on one OS each."""
    names = {"SIGINT": ("Ctrl-C", "Ctrl-C"), "SIGBREAK": ("Ctrl-Break", "Ctrl-Break"),
             "SIGTERM": ("SIGTERM (a stop button, or kill)", "SIGTERM（停止按钮或 kill）"),
             "SIGHUP": ("SIGHUP (its terminal was closed)", "SIGHUP（终端被关掉了）")}
    return {getattr(signal, name): say(*told) for name, told in names.items() if hasattr(signal, name)}


# OSErrors that say something about this computer, not about a bug in the kit: a message, not a traceback.
FULL = ("The disk is full (or your quota used up): free some space, or choose a folder on another disk.",
        "磁盘满了（或者磁盘配额用完了）：腾出一些空间，或者换一个在别的磁盘上的文件夹。")
REFUSED = ("You cannot write there (read-only, or not allowed): choose a folder you can write to.",
           "那里不能写入（只读，或者没有权限）：换一个可以写入的文件夹。")
ADVICE_FOR = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EROFS: REFUSED, errno.EACCES: REFUSED, errno.EPERM: REFUSED,
              errno.ENAMETOOLONG: ("Choose a shorter name or folder.", "换一个短一些的名字或文件夹。"),
              errno.EIO: ("The disk or the terminal reported an input/output error.", "磁盘或终端报告了输入输出错误。")}


def run_command(main, *args):
    """main(*args)'s exit status. KitError, out of memory, a full or read-only disk, exit() in a student's model.py:
    a message and status 1; a stop signal: 130 (main has said what was kept); a closed pipe (`| head`): 1, quietly."""
    for stream in (sys.stdout, sys.stderr):  # a GBK console (Chinese Windows) shows '?' for what it cannot encode
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    with stop_signals_handled():
        try:
            status = main(*args) or 0
            if sys.stdout is not None:  # None: started with stdout closed (`>&-`)
                sys.stdout.flush()  # a closed pipe shows here, inside the try, rather than in Python's last flush
            return status
        except KitError as error:
            print_error(f"\n{error}")
        except KeyboardInterrupt as stop:
            print_error(say(f"\nStopped by {stop}.", f"\n已被 {stop} 停止。") if stop.args  # not Python's own Ctrl-C
                        else say("\nInterrupted.", "\n已中断。"))
            return INTERRUPTED
        except BrokenPipeError:  # output piped into a program that stopped reading, e.g. `| head`
            try:  # stdout on the null device: Python's final flush of what is still buffered stays quiet
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)
            except (OSError, ValueError):  # stdout has no file descriptor (a test's capture): nothing buffered to lose
                sys.stdout = open(os.devnull, "w")  # open until the program ends
        except MemoryError as error:
            print_error(say(f"\nOut of memory ({str(error) or 'MemoryError'}): try smaller sizes (for training: "
                            "--hidden_dims, --batch_size).", "\n内存不够了：试试小一些的大小（训练时：--hidden_dims、"
                            "--batch_size）。"))
        except OSError as error:
            if error.errno not in ADVICE_FOR:
                raise  # not the disk or the system: a bug in the kit, keep the traceback
            where = say(f"Cannot use {error.filename}: ", f"无法使用 {error.filename}：") if error.filename else ""
            print_error(f"\n{where}{error.strerror or error}. {say(*ADVICE_FOR[error.errno])}")
        except SystemExit as exit_call:
            from .student_code import student_exit_message  # here: student_code itself imports this module

            message = student_exit_message(exit_call)
            if message is None:
                raise  # the kit's own exit, or Python's
            print_error(f"\n{message}")
        return 1


def print_error(text):
    try:
        print(text, file=sys.stderr, flush=True)
    except OSError:
        pass  # stderr is gone (its terminal closed): no one left to tell, the exit status still tells


class _StopState:
    deferring, pending, stopping_since = False, None, None  # in interrupts_deferred(), a held signal, time of a stop


def stop_exception(signum):
    """Ctrl-C's KeyboardInterrupt, or one naming the other signal, so that `except KeyboardInterrupt` sees all."""
    _StopState.stopping_since = time.monotonic()
    return KeyboardInterrupt() if signum == signal.SIGINT else KeyboardInterrupt(stop_signals().get(signum, signum))


def _on_stop_signal(signum, frame):
    state = _StopState
    if state.stopping_since is not None and time.monotonic() - state.stopping_since < SECOND_PRESS_SECONDS:
        return  # pressed twice: the first is already stopping the program and cleaning up
    if state.deferring:
        state.pending = signum
        return
    raise stop_exception(signum)


@contextmanager
def stop_signals_handled():
    """Inside the block stop_signals() raise KeyboardInterrupt, a second press is ignored, nohup's stay ignored."""
    previous = {signum: signal.signal(signum, _on_stop_signal) for signum in stop_signals()
                if signal.getsignal(signum) is not signal.SIG_IGN}
    _StopState.deferring, _StopState.pending, _StopState.stopping_since = False, None, None
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def interrupts_deferred():
    """A stop signal arriving inside the block takes effect when it ends (saving model.npz, noting its epoch)."""
    _StopState.deferring = True
    try:
        yield
    finally:
        _StopState.deferring, signum, _StopState.pending = False, _StopState.pending, None
        if signum is not None:
            raise stop_exception(signum)


def _quiet_interrupt_hook(exc_type, exc, traceback):
    """Ctrl-C outside run_command (while the kit loads): one word, not a traceback of import machinery."""
    if not issubclass(exc_type, KeyboardInterrupt):
        return _previous_hook(exc_type, exc, traceback)
    print_error("\nInterrupted.")  # Python then ends the program as Ctrl-C would (status 130 in a shell)


_previous_hook = sys.excepthook
sys.excepthook = _quiet_interrupt_hook

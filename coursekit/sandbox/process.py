"""The student's process, from the grader's side: `python -I -B -c SERVER_SOURCE LIMITS` in a scratch folder of its
own, as a user of its own when given one; messages over its stdin and stdout, never waited on past a deadline:
threads read and write its pipes (select() cannot wait on a pipe on Windows)."""

import contextlib
import io
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..errors import KitError
from . import users, wire
from .wire import MAX_ITEMS, Malformed, checked_list, cut

MAX_HEADER = 8 << 20  # bytes of JSON in one reply
MAX_OUTPUT = 4000  # bytes kept of the end of what the student's process printed
SETUP_TIMEOUT = 60.0  # seconds a new process may take to load Python and NumPy

SERVER_SOURCE = Path(wire.__file__).read_text(encoding="utf-8")  # it imports only the standard library
SIGNAL_MEANINGS = {"SIGKILL": ": killed, or out of memory", "SIGSEGV": ": a crash in native code",
                   "SIGXCPU": ": out of CPU time", "SIGXFSZ": ": it wrote a file larger than allowed"}


def describe_status(status):
    """An exit status of subprocess (negative: killed by a signal) in words."""
    if status is None or status >= 0:
        return "an unknown status" if status is None else f"exit status {status}"
    name = signal.Signals(-status).name if -status in signal.valid_signals() else "?"
    return f"signal {-status} ({name}{SIGNAL_MEANINGS.get(name, '')})"


def cannot_start(why, uid):
    """The message of a student's process that cannot start, run as uid (None: as the grader)."""
    text = f"Cannot start the sandbox's Python ({sys.executable}): {why}."
    if uid is not None:
        text += (f" It runs as an unprivileged user (uid {uid}), which must be able to run the interpreter and read "
                 f"its libraries and NumPy: install them where every user can (apt's python3, a venv in /opt).")
    return text


def limits_granted(limits):
    """The names of the limits this OS lets a process lower: the grader's first line states only those."""
    process = StudentProcess(None, limits)
    try:
        return [name for name in process.wait_ready() if type(name) is str]
    finally:
        process.stop()


def parse_int(text):
    """JSON integers of at most 40 digits: a huge one could take seconds to parse (or not parse at all)."""
    if len(text) > 40:
        raise ValueError("an integer of more than 40 digits")
    return int(text)


class StudentProcess:
    """One student's process, run as uid (None: as the grader) with limits ({"AS": bytes, ...}): its scratch folder,
    its pipes, the end of what it printed. KitError when it cannot be started."""

    def __init__(self, uid, limits):
        self.uid = uid
        self.output = bytearray()  # the end of what it printed
        self._replies, self._requests, self._written = queue.Queue(), queue.Queue(), queue.Queue()
        try:
            self.scratch = Path(tempfile.mkdtemp(prefix="sandbox-"))
            if uid is not None:
                os.chown(self.scratch, uid, uid)
        except OSError as error:
            raise KitError(f"Cannot prepare the sandbox's folder in {tempfile.gettempdir()}: "
                           f"{error.strerror or error}.") from None
        env = {"HOME": str(self.scratch), "TMPDIR": str(self.scratch), "TEMP": str(self.scratch),
               "TMP": str(self.scratch), "LC_ALL": "C.UTF-8",
               "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        if users.WINDOWS:  # Python cannot start there without SYSTEMROOT
            env.update({name: os.environ[name] for name in ("SYSTEMROOT", "PATH") if name in os.environ})
            options = {"creationflags": getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)}
        else:
            env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
            options = {"start_new_session": True, "umask": 0o077}
            if uid is not None:
                options.update(user=uid, group=uid, extra_groups=[])
        try:
            self.child = subprocess.Popen([sys.executable, "-I", "-B", "-c", SERVER_SOURCE, json.dumps(limits)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          bufsize=0, cwd=self.scratch, env=env, **options)
        except OSError as error:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise KitError(cannot_start(f"{error.strerror or error}", uid)) from None
        self._threads = [threading.Thread(target=target, daemon=True)
                         for target in (self._read_replies, self._keep_output, self._write_requests)]
        for thread in self._threads:
            thread.start()

    def wait_ready(self):
        """Wait until Python and NumPy are loaded: the names of the limits set. KitError when it does not start."""
        try:
            header, _ = self.receive(time.monotonic() + SETUP_TIMEOUT)
        except (TimeoutError, EOFError, Malformed) as why:
            reason = "it did not start"
            if isinstance(why, EOFError):
                reason = f"it ended with {describe_status(self.exit_status())}"
            said = self.last_line()[:200]
            raise KitError(cannot_start(reason + (f"; it said: {said}" if said else ""), self.uid)) from None
        if "setup_error" in header:
            raise KitError(cannot_start(cut(str(header["setup_error"])), self.uid))
        return header.get("limits", [])

    def stop(self):
        """Kill it with every process it started, delete its folder."""
        with contextlib.suppress(OSError):
            self.child.kill()
            if not users.WINDOWS:  # and what it started: its own session, pgid == pid
                os.killpg(self.child.pid, signal.SIGKILL)
        if self.uid is not None:
            users.kill_processes_of(self.uid)
        with contextlib.suppress(subprocess.TimeoutExpired):  # gone at once, unless the kernel holds it (a hung disk)
            self.child.wait(timeout=10)
        self._requests.put(None)
        for stream in (self.child.stdin, self.child.stdout, self.child.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        shutil.rmtree(self.scratch, ignore_errors=True)  # in the temporary folder; never the student's fault

    def exit_status(self):
        """The exit status of a process that ended by itself (None if it is still going after a second)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.child.wait(timeout=1.0)  # the pipe closed an instant before the process was gone
        return self.child.poll()

    def last_line(self):
        self._threads[1].join(timeout=1.0)  # what is still in the pipe: it may end with it
        lines = self.output.decode("utf-8", errors="replace").strip().splitlines()
        return lines[-1].strip() if lines else ""

    def send(self, data, deadline):
        """Write a message; TimeoutError at the deadline (it is not reading), EOFError when the process is gone."""
        self._requests.put(data)
        try:
            error = self._written.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError() from None
        if error is not None:
            raise EOFError()

    def _write_requests(self):
        for data in iter(self._requests.get, None):
            try:
                self.child.stdin.write(data)  # unbuffered and blocking: the whole message
                self._written.put(None)
            except (OSError, ValueError) as error:
                self._written.put(error)

    def _read_replies(self):
        """Each message the process writes, whole, into the queue (Malformed for one too large); None at the end."""
        stdout = io.BufferedReader(self.child.stdout)  # whose read(n) returns n bytes, or fewer at the end
        with contextlib.suppress(OSError, ValueError):
            while len(frame := stdout.read(wire.FRAME.size)) == wire.FRAME.size:
                lengths = wire.FRAME.unpack(frame)
                if lengths[0] > MAX_HEADER or lengths[1] > wire.MAX_PAYLOAD:
                    self._replies.put(Malformed(f"a message of {sum(lengths)} bytes"))
                    break
                message = [stdout.read(length) for length in lengths]
                if [len(part) for part in message] != list(lengths):
                    break
                self._replies.put(message)
        self._replies.put(None)

    def receive(self, deadline):
        """One message from the student's process: (header dict, buffers), checked in form (Malformed); TimeoutError
        at the deadline, EOFError when the process is gone."""
        try:
            message = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError() from None
        if message is None:
            self._replies.put(None)  # every later receive ends too
            raise EOFError()
        if isinstance(message, Malformed):
            raise message
        head, payload = message
        try:
            header = json.loads(head.decode("utf-8"), parse_int=parse_int)
        except (ValueError, RecursionError) as error:
            raise Malformed(f"not JSON: {str(error)[:100]}") from None
        if not isinstance(header, dict):
            raise Malformed("not a JSON object")
        lengths = checked_list(header.get("buffers"), MAX_ITEMS)
        if not all(type(n) is int and n >= 0 for n in lengths) or sum(lengths) != len(payload):
            raise Malformed("buffer lengths that do not add up")
        return header, wire.split_payload(payload, lengths)

    def _keep_output(self):
        """The end of what the process prints (its stderr), in self.output."""
        with contextlib.suppress(OSError, ValueError):
            for chunk in iter(lambda: self.child.stderr.read(1 << 16), b""):
                self.output += chunk
                del self.output[:-MAX_OUTPUT]

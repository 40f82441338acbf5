"""coursekit/sandbox/: a student's file in a process of its own, used from here through proxies.

Each test writes a small student file and uses it through a Sandbox: values cross as data, errors come back with
their line, a hang or an exit costs one call, malformed replies fail one call, and (as root) the process runs as an
unprivileged user of its own that cannot read what it must not, start processes, or outlive the sandbox.
"""

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from coursekit import sandbox
from coursekit.errors import KitError
from coursekit.sandbox import Sandbox
from coursekit.sandbox.errors import (
    DeadObjectError,
    StudentCrash,
    StudentError,
    StudentExit,
    StudentImportError,
    StudentNotImplemented,
    StudentProtocolError,
    StudentTimeout,
)
from coursekit.student_code import explain_exception, student_frames

pytestmark = pytest.mark.requires("sandbox")
needs_root = pytest.mark.requires("root")
needs_posix = pytest.mark.requires("posix")

BASICS = """
    import os
    import sys

    import numpy as np


    class Layer:
        def __init__(self, size, dtype=np.float64):
            self.W = np.ones((size, size), dtype=dtype)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return x @ self.W

        def todo(self):
            raise NotImplementedError("Task 9: Layer.todo")

        def broken(self, x):
            return x @ np.ones((7, 7))


    class Custom(ValueError):
        pass


    def values():
        return {"none": None, "flag": True, "int": 3, "float": 2.5, "text": "hé", "list": [1, (2, 3)],
                "f32": np.float32(1.5), "i8": np.arange(3, dtype=np.int8), "bools": np.array([True, False]),
                "dtype": np.dtype("float32"), "type": np.float64, "empty": np.zeros((0, 3))}

    def echo(*args, **kwargs):
        return [args, kwargs]

    def draw(rng):
        return rng.normal(size=3)

    def raise_custom():
        raise Custom("my own error")

    def interrupt():
        raise KeyboardInterrupt

    def leave(code=3):
        sys.exit(code)

    def hard_exit():
        os._exit(3)

    def kill_myself():
        os.kill(os.getpid(), 9)

    def hang():
        while True:
            pass

    def uid():
        return os.getuid()

    def pid():
        return os.getpid()

    def objects():
        return np.array([object()])

    def divide():
        return np.ones(2) / np.zeros(2)

    def say(text):
        print(text, flush=True)

    def shout(text):
        raise ValueError(text)

    def flood():
        sys.stdout.write("x" * 3_000_000 + "\\n")
        sys.stdout.flush()
        return "done"

    def fork():
        return os.fork()

    def read(path):
        with open(path) as file:
            return file.read()

    def write(path):
        with open(path, "w") as file:
            file.write("x")
        return path

    def signal_process(pid):
        os.kill(pid, 0)

    def allocate(gigabytes):
        return np.ones(int(gigabytes * 2**30 // 8)).sum()

    class Guarded:
        def __setattr__(self, name, value):
            if np.any(np.asarray(value) < 0):
                raise ValueError("no negative values")
            object.__setattr__(self, name, value)


    def forge(frame):
        import __main__  # the sandbox's wire.py: its channel to the grader

        os.write(__main__.channel[1], frame.encode("latin-1"))
        return 1
"""


def line_of(text):
    """The line number of `text` in BASICS as written to model.py."""
    return next(number for number, line in enumerate(textwrap.dedent(BASICS).splitlines(), 1) if text in line)


def write_student(folder, source, name="model.py"):
    path = Path(folder) / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def basics(tmp_path_factory):
    return write_student(tmp_path_factory.mktemp("basics"), BASICS)


@pytest.fixture()
def box(basics):
    with Sandbox(basics, timeout=5) as box:
        assert box.import_error is None
        yield box


def frame(header, payload=b""):
    import json
    import struct

    head = json.dumps(header).encode()
    return (struct.pack(">II", len(head), len(payload)) + head + payload).decode("latin-1")


# ---------------------------------------------------------------------------------------------------------------
# Values and objects


def test_objects_stay_there_and_data_comes_back(box):
    layer = box.module.Layer(3)
    assert type(layer).__name__ == "Layer"
    layer.W = np.eye(3) * 2
    got = layer.forward(np.ones((2, 3)))
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got.tolist() == [[2, 2, 2], [2, 2, 2]]
    assert layer.calls == 1
    layer.W[0, 0] = 100.0  # a copy came back: changing it changes nothing there
    assert layer.W[0, 0] == 2.0
    assert box.module.Layer(2, np.float32).W.dtype == np.float32


def test_every_kind_of_data_crosses(box):
    got = box.module.values()
    assert got["none"] is None and got["flag"] is True and got["int"] == 3 and got["float"] == 2.5
    assert got["text"] == "hé" and got["list"] == [1, (2, 3)]
    assert isinstance(got["f32"], np.float32) and got["f32"] == 1.5
    assert got["i8"].dtype == np.int8 and got["i8"].tolist() == [0, 1, 2]
    assert got["bools"].dtype == bool and got["empty"].shape == (0, 3)
    assert got["dtype"] == np.float32 and got["type"] is np.float64
    sent = box.module.echo(np.arange(4.0).reshape(2, 2), [np.int64(5), "a"], key={"k": (None, 1.5)})
    assert sent[0][0].tolist() == [[0, 1], [2, 3]] and sent[0][1] == [5, "a"] and sent[1] == {"key": {"k": (None, 1.5)}}


def test_a_generator_is_sent_as_a_copy(box):
    rng = np.random.default_rng(7)
    assert np.array_equal(box.module.draw(rng), np.random.default_rng(7).normal(size=3))
    assert np.array_equal(rng.normal(size=3), np.random.default_rng(7).normal(size=3)), "ours did not advance"


def test_only_data_and_their_own_objects_cross(box):
    with pytest.raises(TypeError, match="cannot be sent"):
        box.module.echo(lambda: 1)
    with pytest.raises(StudentError, match="dtype object"):
        box.module.objects()
    layer = box.module.Layer(2)
    assert box.module.echo(layer)[0][0].calls == 0  # their own object goes back as itself


def test_numpy_probes_never_reach_the_student(box):
    layer = box.module.Layer(2)
    assert not hasattr(layer, "__array_interface__")
    assert np.asarray(layer).dtype == object  # an opaque object here, not an array read from memory


def test_an_assignment_runs_their_code(box):
    guarded = box.module.Guarded()
    guarded.value = np.ones(2)
    with pytest.raises(ValueError, match="no negative values"):
        guarded.value = -np.ones(2)
    assert guarded.value.tolist() == [1, 1]


# ---------------------------------------------------------------------------------------------------------------
# Errors


def test_an_error_comes_back_with_its_line(box, basics):
    with pytest.raises(ValueError) as caught:
        box.module.Layer(3).broken(np.ones((2, 3)))
    error = caught.value
    assert isinstance(error, StudentError) and type(error).__name__ == "ValueError"
    assert error.blame.line == line_of("x @ np.ones((7, 7))") and error.blame.function == "broken"
    assert error.blame.code == "return x @ np.ones((7, 7))"
    text = explain_exception(error, basics)
    line = line_of("x @ np.ones((7, 7))")
    assert text.startswith("ValueError: matmul")
    assert text.endswith(f"(model.py, line {line}, in broken: return x @ np.ones((7, 7)))")


def test_a_stub_is_a_not_implemented_error(box, basics):
    with pytest.raises(NotImplementedError) as caught:
        box.module.Layer(3).todo()
    assert isinstance(caught.value, StudentNotImplemented) and str(caught.value).startswith("Task 9: Layer.todo")
    assert student_frames(caught.value, basics)[-1].lineno == line_of("Task 9")


def test_their_own_exception_types_keep_their_names(box):
    with pytest.raises(ValueError) as caught:
        box.module.raise_custom()
    assert type(caught.value).__name__ == "Custom" and str(caught.value) == "my own error"
    assert not hasattr(box.module, "no_such_name")  # their AttributeError is one here
    with pytest.raises(StudentError) as caught:
        box.module.interrupt()
    assert not isinstance(caught.value, KeyboardInterrupt)


def test_sys_exit_fails_the_call_and_the_process_goes_on(box):
    pid = box.module.pid()
    with pytest.raises(StudentExit, match=r"model.py called sys.exit\(3\)") as caught:
        box.module.leave()
    assert caught.value.blame.line == line_of("sys.exit(code)")
    assert box.module.pid() == pid


@pytest.mark.parametrize("function, status", [("hard_exit", "exit status 3"),
                                              pytest.param("kill_myself", "signal 9", marks=needs_posix)])
def test_a_process_that_ends_costs_one_call(box, function, status):
    layer = box.module.Layer(2)
    with pytest.raises(StudentCrash, match=status):
        getattr(box.module, function)()
    with pytest.raises(DeadObjectError):
        layer.forward(np.ones((1, 2)))
    assert box.module.Layer(2).forward(np.ones((1, 2))).tolist() == [[2, 2]]  # a new process, the file imported again
    assert [event.kind for event in box.events] == ["ended"]


def test_a_hang_is_stopped_and_the_next_call_gets_a_new_process(basics):
    with Sandbox(basics, timeout=1.5) as box:
        pid = box.module.pid()
        started = time.monotonic()
        with pytest.raises(StudentTimeout, match="did not answer within 1.5 s"):
            box.module.hang()
        assert time.monotonic() - started < 10
        assert sandbox.users.WINDOWS or not process_exists(pid)
        assert box.module.pid() != pid
        box.limit_time(0.5)
        with pytest.raises(StudentTimeout):
            box.module.hang()
        with pytest.raises(StudentTimeout, match="no time left"):
            box.module.pid()
        assert [event.kind for event in box.events] == ["timeout", "timeout", "timeout"]


def test_numpy_warnings_come_back_with_their_line(box, basics):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        box.module.divide()
    [warning] = caught
    assert warning.category is RuntimeWarning and "divide" in str(warning.message)
    assert Path(warning.filename) == basics and warning.lineno == line_of("np.ones(2) / np.zeros(2)")


# ---------------------------------------------------------------------------------------------------------------
# Files that do not import


@pytest.mark.parametrize("source, expected", [
    ("", "model.py is empty"),
    ("\n  \n", "model.py is empty"),
    ("class A:\n    def f(self)\n        pass\n", "model.py has a syntax error, line 2: "),  # the message varies
    ("import numpy\n\nx = 1 / 0\n", "model.py could not be imported: ZeroDivisionError: division by zero "
                                    "(model.py, line 3, in <module>: x = 1 / 0)"),
    ("import sys\nsys.exit(0)\n", "model.py called sys.exit(0), while being imported, line 2: sys.exit(0)"),
    ("import os\nos._exit(4)\n", "exit status 4"),
])
def test_a_file_that_does_not_import_gets_one_diagnosis(tmp_path, source, expected):
    model = write_student(tmp_path, source)
    with Sandbox(model, timeout=5) as box:
        assert isinstance(box.import_error, StudentImportError)
        assert expected in str(box.import_error)
        with pytest.raises(StudentImportError):
            box.module.anything  # noqa: B018 - every request raises the same diagnosis


def test_a_binary_file_is_not_a_syntax_error_on_line_none(tmp_path):
    model = tmp_path / "model.py"
    model.write_bytes(b"\x7fELF\x00\x01\x02garbage")
    with Sandbox(model, timeout=5) as box:
        assert "not a text file" in str(box.import_error) and "None" not in str(box.import_error)


def test_an_endless_import_is_stopped(tmp_path):
    model = write_student(tmp_path, "while True:\n    pass\n")
    started = time.monotonic()
    with Sandbox(model, timeout=1) as box:
        assert "did not finish" in str(box.import_error)
    assert time.monotonic() - started < 10


# ---------------------------------------------------------------------------------------------------------------
# A student's process that lies


@pytest.mark.parametrize("header, payload", [
    ({"id": 10**6, "value": 100}, b""),  # a reply to a request never made
    ({"id": 3, "value": {"$": "array", "dtype": "|O8", "shape": [1], "buffer": 0}}, b"\0" * 8),  # pointers
    ({"id": 3, "value": {"$": "array", "dtype": "<f8", "shape": [1000], "buffer": 0}}, b"\0" * 8),  # short
    ({"id": 3, "value": {"$": "ref", "id": -1, "type": "x", "methods": []}}, b""),
    ({"id": 3, "value": {"$": "pickle", "data": "gASV"}}, b""),
    ({"id": 3, "value": [1, 2]}, b""),
    ({"id": 3, "value": 10**100}, b""),
])
def test_a_forged_reply_fails_that_call_only(box, header, payload):
    header = dict(header, buffers=[len(payload)] if payload else [])
    with pytest.raises(StudentProtocolError, match="malformed reply"):
        box.module.forge(frame(header, payload))
    assert box.module.Layer(2).forward(np.ones((1, 2))).tolist() == [[2, 2]]


def test_a_huge_or_garbled_frame_fails_that_call_only(box):
    import struct

    for garbage in (struct.pack(">II", 2**31, 0), struct.pack(">II", 5, 0) + b"{{{{{"):
        with pytest.raises(StudentProtocolError):
            box.module.forge(garbage.decode("latin-1"))
        assert box.module.pid() > 0
    with pytest.raises(StudentProtocolError):
        box.module.forge("\xff" * 8)
    with pytest.raises(StudentProtocolError, match="3 times: it is not started again"):
        box.module.pid()  # a process that keeps lying is not worth starting again


# ---------------------------------------------------------------------------------------------------------------
# Output hygiene


def test_text_from_the_student_is_cut(box):
    with pytest.raises(ValueError) as caught:
        box.module.shout("y" * 10_000)
    assert len(str(caught.value)) < 700


def test_a_flood_of_output_neither_blocks_nor_shows(box):
    assert box.module.flood() == "done"
    box.module.say("last words")
    with pytest.raises(StudentCrash, match="its last line of output: last words"):
        box.module.hard_exit()


# ---------------------------------------------------------------------------------------------------------------
# Limits, in either mode


@needs_posix
def test_no_process_and_no_thread_can_be_started(box):
    with pytest.raises(StudentError) as caught:
        box.module.fork()
    assert type(caught.value).__name__ == "BlockingIOError"


@needs_posix
def test_memory_is_limited(basics):
    with Sandbox(basics, timeout=10, memory_mb=512) as box:
        with pytest.raises(MemoryError):
            box.module.allocate(1)
        assert box.module.allocate(0.01) > 0


def test_without_dropping_privileges_it_works_the_same(basics):
    with Sandbox(basics, timeout=5, drop_privileges=False) as box:
        assert box.uid is None and box.module.pid() != os.getpid()
        assert box.module.Layer(2).forward(np.ones((1, 2))).tolist() == [[2, 2]]


# ---------------------------------------------------------------------------------------------------------------
# Root: a user of its own


@needs_root
def test_as_root_the_code_runs_as_a_fresh_unprivileged_user(box):
    assert box.uid is not None and box.uid >= 1_000_000_000
    assert box.module.uid() == box.uid
    with pytest.raises(StudentError, match="Permission denied"):
        box.module.write(str(Path(sandbox.__file__).parent / "planted.py"))
    with pytest.raises(StudentError, match="Permission denied"):
        box.module.read("/etc/shadow")


@needs_root
def test_two_sandboxes_cannot_signal_each_other(basics):
    with Sandbox(basics, timeout=5) as first, Sandbox(basics, timeout=5) as second:
        assert first.uid != second.uid
        with pytest.raises(StudentError, match="Operation not permitted"):
            first.module.signal_process(second.module.pid())


@needs_root
def test_its_files_and_processes_are_gone_afterwards(basics):
    leftover = Path(tempfile.gettempdir()) / f"leftover-{os.getpid()}"
    with Sandbox(basics, timeout=5) as box:
        uid = box.uid
        assert box.module.write(str(leftover)) == str(leftover)
        assert leftover.exists()
        # NPROC forbids forking: start one as that user from here, as a process that escaped would be
        stray = subprocess.Popen(["sleep", "60"], user=uid, group=uid, start_new_session=True)
    assert not leftover.exists()
    assert stray.wait(timeout=10) == -signal.SIGKILL
    assert sandbox.processes_of(uid) == []


@needs_root
def test_an_interpreter_the_sandbox_user_cannot_run_is_a_clear_error(basics, tmp_path, monkeypatch):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "python").symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(private / "python"))
    with pytest.raises(KitError, match=r"who cannot run this Python .*other users cannot enter .*private"):
        with Sandbox(basics, timeout=5):
            pass


def process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()


@pytest.mark.requires("posix")  # it simulates Windows on a POSIX machine
def test_with_windows_simulated_the_sandbox_works_without_limits_groups_or_users(tmp_path):
    """No resource, fcntl or pwd; no setrlimit, process group nor uid: the same tests pass or skip."""
    from submissions import as_on_windows

    result = as_on_windows(Path(__file__).parent.parent, "-m", "pytest", __file__, "-q", "-rs", "-p",
                           "no:cacheprovider", "-k", "not windows_simulated", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "needs POSIX signals, uids and limits" in result.stdout and " passed" in result.stdout

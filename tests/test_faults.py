"""Fault injection: whatever happens to a run, no half-written file under a final name, no temporary file left behind,
no traceback, and the documented exit status (0 success, 1 explained failure, 2 bad command line, 130 stopped).

- Two programs writing the same file, many times over: threads and processes.
- Ctrl-C, SIGTERM, SIGHUP and Ctrl-Break at each point of a run: while importing, training, saving model.npz (the
  write, the rename), drawing a plot, testing, downloading; and pressed twice.
- Read-only and full folders: a small tmpfs of their own where this runs as root and may mount one; elsewhere a
  stand-in that makes open() fail the same way for the files under the folder.
- Windows refusing to replace a file another program holds (PermissionError), for a while or for good.
- Damaged model.npz files, for --resume and for the canvas.

Most trials run main.py in this process, where they are cheap: a small network on a slice of real MNIST, and the
signal sent by os.kill to this process at an exact point of the run through a hook. A few run main.py in a
subprocess to show the exit status and stderr end to end (their data: a slice of MNIST in a folder of their own,
with its checksums passed to data.py by a small runner script).
"""

import builtins
import contextlib
import errno
import gzip
import hashlib
import io
import itertools
import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from matplotlib.figure import Figure

from chapter03.common import canvas, checkpoint, cli, data, download, plots, run, train
from conftest import CHAPTER, REPO, english_words
from coursekit import errors, files
from coursekit.errors import KitError, run_command
from coursekit.files import write_atomically

POSIX = os.name == "posix"
needs_posix = pytest.mark.skipif(not POSIX, reason="POSIX signals and file modes")
SIGNALS = [signal.SIGINT, signal.SIGTERM] if POSIX else []
SOLUTION = CHAPTER / "solution"
COMMAND = "python chapter03/solution/main.py"
TRAIN, VAL, TEST = 2000, 500, 300  # images of the in-process runs: enough to learn, a fraction of a second an epoch


# ---------------------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def mnist(shared_mnist):
    """A slice of the real MNIST as data.Mnist, for runs in this process."""
    full = data.load_mnist(shared_mnist)
    return data.Mnist(full.train_images[:TRAIN], full.train_labels[:TRAIN], full.val_images[:VAL],
                      full.val_labels[:VAL], full.test_images[:TEST], full.test_labels[:TEST])


def train_run(solution, mnist, model_dir, epochs=2, resume=False, lr=0.05, hidden=(16,), test_pictures=True,
              more=()):
    """A training run of main.py in this process on `mnist` (its checks taken as passed) -> the exit status.
    test_pictures=False leaves out confusion.png and mistakes.png (a second of drawing) where a test is not about
    them."""
    flags = ["--model_dir", model_dir, "--epochs", epochs, "--lr", lr, "--momentum", 0.9, "--hidden_dims", *hidden]
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(run, "load_data", lambda args: mnist))
        stack.enter_context(mock.patch.object(run, "check_layers", lambda *args: True))
        if not test_pictures:
            stack.enter_context(mock.patch.object(checkpoint.ModelFolder, "save_test_pictures", lambda *args: None))
        return cli.main(SOLUTION, [*map(str, flags), *(["--resume"] if resume else []), *more])


def hook(monkeypatch, owner, name, action, call=1, when="before"):
    """Replace owner.name by a function calling action() at its call-th call, before or after the real one."""
    real = getattr(owner, name)
    calls = itertools.count(1)

    def hooked(*args, **kwargs):
        number = next(calls)
        if number == call and when == "before":
            action()
        result = real(*args, **kwargs)
        if number == call and when == "after":
            action()
        return result

    monkeypatch.setattr(owner, name, hooked)


def send(signum):
    """An action: send signum to this process, as a user (Ctrl-C), an IDE (SIGTERM) or a closing terminal would."""
    return lambda: os.kill(os.getpid(), signum)


@pytest.fixture(autouse=True)
def signals_restored():
    """A signal a test sends outside run_command would end pytest itself: fail that test instead."""
    if not POSIX:
        yield
        return

    def stray(signum, frame):
        raise AssertionError(f"signal {signum} arrived outside run_command")

    previous = {s: signal.signal(s, stray) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for s, handler in previous.items():
        signal.signal(s, handler)


TEMPORARY_PATTERNS = ("*.tmp", "*.part", "*.renaming")


def assert_clean(folder):
    """No temporary file in folder, and every file under a final name complete: models load, pictures decode."""
    from PIL import Image

    leftovers = [p.name for pattern in TEMPORARY_PATTERNS for p in folder.glob(pattern)]
    assert not leftovers, f"temporary files left behind: {leftovers}"
    for path in folder.glob("*.npz"):
        checkpoint.load(path)
    for path in folder.glob("*.png"):
        with Image.open(path) as picture:
            picture.load()


def saved_epoch(path):
    with np.load(path, allow_pickle=False) as saved:
        return int(saved["epoch"])


def epoch_said(err):
    """The epoch a stopped run says it kept (0 for 'nothing was saved')."""
    if "nothing was saved" in err:
        return 0
    marker = "Stopped: epoch "
    assert marker in err, err
    return int(err.split(marker)[1].split()[0])


# ---------------------------------------------------------------------------------------------------- two writers


def together(*functions, timeout=120):
    """Call the functions in threads started at the same instant; returns what each raised (None: nothing)."""
    start = threading.Barrier(len(functions))
    raised = [None] * len(functions)

    def call(i):
        start.wait()
        try:
            functions[i]()
        except BaseException as error:  # returned to the test, which asserts on it
            raised[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(functions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return raised


def test_two_threads_writing_the_same_file_never_leave_a_broken_one(tmp_path):
    path = tmp_path / "model.npz"
    payloads = [np.full(300_000, k, dtype=np.float32) for k in (1, 2)]  # 1.2 MB each: the writes overlap
    for trial in range(25):
        assert together(*(lambda k=k, trial=trial: write_atomically(
            path, lambda file: np.savez(file, data=payloads[k], trial=trial)) for k in (0, 1))) == [None, None]
        with np.load(path, allow_pickle=False) as saved:  # a whole file: one writer's or the other's
            assert int(saved["trial"]) == trial
            assert any(np.array_equal(saved["data"], payload) for payload in payloads)
        assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


WRITER = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from coursekit.files import write_atomically
data = np.full(200_000, int(sys.argv[3]), dtype=np.float32)
for trial in range(int(sys.argv[4])):
    write_atomically(sys.argv[2], lambda file: np.savez(file, data=data, trial=trial))
"""


@needs_posix
def test_two_processes_writing_the_same_file_while_it_is_read(tmp_path):
    path = tmp_path / "model.npz"
    write_atomically(path, lambda file: np.savez(file, data=np.zeros(200_000, np.float32), trial=-1))
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(REPO), str(path), str(k), "30"]) for k in (1, 2)]
    reads = 0
    try:
        while any(writer.poll() is None for writer in writers):
            with np.load(path, allow_pickle=False) as saved:  # every read sees a whole file
                values = np.unique(saved["data"])
                assert len(values) == 1 and values[0] in (0, 1, 2)
            reads += 1
        assert [writer.wait(timeout=60) for writer in writers] == [0, 0]
    finally:
        for writer in writers:
            writer.kill()
    assert reads > 0
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def test_two_downloads_into_the_same_folder(tmp_path, small_idx):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, blob in small_idx["gz"].items():
        (mirror / name).write_bytes(blob)
    for trial in range(6):
        folder = tmp_path / f"data{trial}"

        def download(folder=folder):
            data.ensure_mnist(folder, [mirror.as_uri()], checksums=small_idx["sha"])

        assert together(download, download) == [None, None]
        data.load_mnist(folder, checksums=small_idx["sha"])  # all four there, and whole
        assert_clean(folder)


@pytest.fixture(scope="module")
def small_idx():
    """Four small MNIST-shaped files: {"gz": name.gz -> bytes, "sha": name -> SHA-256 of the IDX bytes}."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (data.VALIDATION_SIZE + 20, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, data.VALIDATION_SIZE + 20, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, 30, dtype=np.uint8)}
    idx = {name: idx_bytes(array) for name, array in arrays.items()}
    return {"gz": {name + ".gz": gzip.compress(blob, compresslevel=1) for name, blob in idx.items()},
            "sha": {name: hashlib.sha256(blob).hexdigest() for name, blob in idx.items()}}


def idx_bytes(array):
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


# ---------------------------------------------------------------------------------------------------- signals


POINTS = {
    # point: (owner, name, call, when, the epoch the run must say it kept)
    "first epoch": (train, "train_one_epoch", 1, "before", 0),
    "zipping model.npz": (np, "savez", 1, "after", 1),
    "writing model.npz": (files, "flush_to_disk", 1, "before", 1),  # its temporary file written, not yet renamed
    "renaming model.npz": (os, "replace", 1, "before", 1),
    "drawing the first loss plot": (Figure, "savefig", 1, "after", 1),
    "writing the first loss plot": (files, "flush_to_disk", 2, "before", 1),
    "second epoch": (train, "train_one_epoch", 2, "before", 1),
    "drawing the confusion matrix": (plots, "save_confusion_matrix", 1, "before", 2),
}


@needs_posix
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("point", POINTS)
def test_a_signal_at_each_point_of_a_run(solution, mnist, tmp_path, monkeypatch, capsys, point, signum):
    owner, name, call, when, kept = POINTS[point]
    model_dir = tmp_path / "model"
    hook(monkeypatch, owner, name, send(signum), call, when)
    assert train_run(solution, mnist, model_dir) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert_clean(model_dir)
    if point == "drawing the confusion matrix":  # after training: every epoch is saved, and the run says stopped
        assert saved_epoch(model_dir / "model.npz") == 2 and not (model_dir / "confusion.png").exists()
        return
    assert epoch_said(err) == kept  # what the run says is what the folder holds
    if kept:
        assert saved_epoch(model_dir / "model.npz") == kept
        assert "--resume" in err
    else:
        assert not (model_dir / "model.npz").exists()


@needs_posix
@pytest.mark.parametrize("point", ["writing model.npz", "second epoch"])
def test_sighup_is_handled_like_ctrl_c(solution, mnist, tmp_path, monkeypatch, capsys, point):
    owner, name, call, when, kept = POINTS[point]
    hook(monkeypatch, owner, name, send(signal.SIGHUP), call, when)
    assert train_run(solution, mnist, tmp_path) == 130
    err = capsys.readouterr().err
    assert "SIGHUP" in err and "Traceback" not in err and epoch_said(err) == kept
    assert_clean(tmp_path)


@needs_posix
def test_stopped_in_chinese_every_line_is_chinese(solution, mnist, tmp_path, monkeypatch, capsys):
    hook(monkeypatch, train, "train_one_epoch", send(signal.SIGINT), call=2)
    assert train_run(solution, mnist, tmp_path, more=["--lang", "zh"]) == 130
    err = capsys.readouterr().err
    assert f"已停止：第 1 轮已保存在 {tmp_path / 'model.npz'}。\n接着训练：" in err
    assert err.rstrip().endswith("已中断。")
    assert english_words(err) == []


@needs_posix
@pytest.mark.parametrize("first, second", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM, signal.SIGINT)])
def test_pressed_twice_the_second_signal_does_not_cut_the_cleanup(solution, mnist, tmp_path, monkeypatch, capsys,
                                                                   first, second):
    hook(monkeypatch, files, "flush_to_disk", send(first), 2)  # in the middle of writing loss.png...
    hook(monkeypatch, files, "remove", send(second))  # ...and again while its temporary file is being removed
    assert train_run(solution, mnist, tmp_path) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and epoch_said(err) == 1
    assert_clean(tmp_path)


@needs_posix
def test_stopped_before_the_first_save_an_earlier_run_is_untouched(solution, mnist, tmp_path, monkeypatch, capsys):
    assert train_run(solution, mnist, tmp_path, epochs=1, test_pictures=False) == 0
    earlier = (tmp_path / "model.npz").read_bytes()
    capsys.readouterr()
    hook(monkeypatch, train, "train_one_epoch", send(signal.SIGINT))
    assert train_run(solution, mnist, tmp_path) == 130
    out, err = capsys.readouterr()
    assert "holds an earlier run" in out and "--resume" in out and "nothing was saved" in err
    assert (tmp_path / "model.npz").read_bytes() == earlier


@needs_posix
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_during_a_download(tmp_path, monkeypatch, small_idx, signum):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, blob in small_idx["gz"].items():
        (mirror / name).write_bytes(blob)
    hook(monkeypatch, download.shutil, "copyfile", send(signum), call=2, when="after")  # the second file, copied
    status = run_command(data.ensure_mnist, tmp_path / "data", [mirror.as_uri()], (5, 5), small_idx["sha"])
    assert status == 130
    assert_clean(tmp_path / "data")
    monkeypatch.undo()
    data.ensure_mnist(tmp_path / "data", [mirror.as_uri()], checksums=small_idx["sha"])  # finishes what is left
    data.load_mnist(tmp_path / "data", checksums=small_idx["sha"])


# ---------------------------------------------------------------------------------------------------- main.py itself

RUNNER = """
import json, os, signal, sys
from pathlib import Path

repo, checksums, hook = sys.argv[1:4]
sys.path.insert(0, repo)
if hook == "imports":  # Ctrl-C while the kit's modules load: send it when diagnose.py is first asked for
    class Interrupter:
        def find_spec(self, name, path=None, target=None):
            if name == "chapter03.common.diagnose":
                os.kill(os.getpid(), signal.SIGINT)
            return None
    sys.meta_path.insert(0, Interrupter())
from chapter03.common import cli, data, run

data.PUBLISHED_SHA256.update(json.loads(Path(checksums).read_text()))  # this test's slice of MNIST
run.check_layers = lambda *args: True  # the checks have tests of their own; here they would only cost time
if hook.startswith("save:"):  # a signal in the middle of writing model.npz, at an epoch
    from coursekit import files
    signum, epoch = hook.split(":")[1:]
    flush_to_disk, saves = files.flush_to_disk, []
    def interrupted_flush(file):  # the temporary file written, not yet renamed to model.npz
        saves.extend([1] if "model.npz" in file.name else [])
        if len(saves) == int(epoch) and "model.npz" in file.name:
            os.kill(os.getpid(), getattr(signal, signum))
        flush_to_disk(file)
    files.flush_to_disk = interrupted_flush
sys.exit(cli.main(Path(repo) / "chapter03" / "solution", sys.argv[4:]))
"""


@pytest.fixture(scope="module")
def runner(tmp_path_factory, shared_mnist):
    """runner(hook, *main_args, **popen) -> a Popen of main.py (checks skipped) on a slice of MNIST: 1,000 training
    images (and MNIST's 5,000 for validation), 500 test images; data.py checks them against their own checksums."""
    folder = tmp_path_factory.mktemp("runner")
    full = data.load_mnist(shared_mnist)
    train_images = np.concatenate([full.train_images[:1000], full.val_images]).reshape(-1, 28, 28)
    train_labels = np.concatenate([full.train_labels[:1000], full.val_labels]).astype(np.uint8)
    arrays = {"train-images-idx3-ubyte": train_images, "train-labels-idx1-ubyte": train_labels,
              "t10k-images-idx3-ubyte": full.test_images[:500].reshape(-1, 28, 28),
              "t10k-labels-idx1-ubyte": full.test_labels[:500].astype(np.uint8)}
    (folder / "data").mkdir()
    checksums = {}
    for name, array in arrays.items():
        blob = idx_bytes(np.ascontiguousarray(array))
        (folder / "data" / (name + ".gz")).write_bytes(gzip.compress(blob, compresslevel=1))
        checksums[name] = hashlib.sha256(blob).hexdigest()
    (folder / "checksums.json").write_text(json.dumps(checksums), encoding="utf-8")
    (folder / "runner.py").write_text(RUNNER, encoding="utf-8")

    def start(hook, *args, **popen):
        command = [sys.executable, str(folder / "runner.py"), str(REPO), str(folder / "checksums.json"), hook,
                   "--data_dir", str(folder / "data"), *map(str, args)]
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, **popen)

    return start


def finish(process, timeout=120):
    """(status, stdout, stderr) of a process, killed if it outlives timeout."""
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        process.kill()
    return process.returncode, out, err


@needs_posix
def test_ctrl_c_while_python_imports_the_kit(runner):
    status, out, err = finish(runner("imports"))
    assert status in (130, -signal.SIGINT)  # Python's own end for Ctrl-C: shells show 130
    assert "Interrupted." in err and "Traceback" not in err


@needs_posix
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP] if POSIX else [],  # Ctrl-C: test_main.py
                         ids=lambda s: signal.Signals(s).name)
def test_main_py_stopped_from_outside_while_it_trains(runner, tmp_path, signum):
    process = runner("", "--model_dir", tmp_path, "--hidden_dims", 16, "--epochs", 200)
    try:
        deadline = time.monotonic() + 120
        line = ""
        while not line.startswith("Epoch  2/") and time.monotonic() < deadline:
            line = process.stdout.readline()
            assert line or process.poll() is None, process.stderr.read()
        process.send_signal(signum)
        status, out, err = finish(process, timeout=60)
    finally:
        process.kill()
    assert status == 130, err
    assert "Traceback" not in err and "--resume" in err
    assert epoch_said(err) == saved_epoch(tmp_path / "model.npz") >= 2
    assert_clean(tmp_path)


@needs_posix
@pytest.mark.parametrize("signum", ["SIGTERM"])  # SIGINT at the same point: test_a_signal_at_each_point_of_a_run
def test_main_py_stopped_during_a_save_keeps_that_epoch(runner, tmp_path, signum):
    status, out, err = finish(runner(f"save:{signum}:2", "--model_dir", tmp_path, "--hidden_dims", 16, "--epochs", 5))
    assert status == 130 and "Traceback" not in err
    assert epoch_said(err) == saved_epoch(tmp_path / "model.npz") == 2  # the save finished, then the run stopped
    assert_clean(tmp_path)


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="RLIMIT_AS on Linux")
def test_main_py_out_of_memory_is_a_message(runner, tmp_path):
    import resource

    def at_most_4_gb():  # the same MemoryError on any machine, whatever its memory and overcommit settings
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))

    process = runner("", "--model_dir", tmp_path, "--hidden_dims", 10_000_000, preexec_fn=at_most_4_gb)
    status, out, err = finish(process)
    assert status == 1 and "Out of memory" in err and "--hidden_dims" in err and "Traceback" not in err


# ---------------------------------------------------------------------------------------------------- small disks


class SmallDisk:
    """A folder on a small disk that can be filled up or made read-only.

    Where this runs as root and may mount (Linux, a CI container with the right), it is a tmpfs of its own: the
    errors are the kernel's. Elsewhere a stand-in: open() of a file under the folder fails as the kernel would
    (EROFS when read-only; ENOSPC on the first write once full)."""

    def __init__(self, path, monkeypatch, size_kb=2048):
        self.path, self.monkeypatch = path, monkeypatch
        path.mkdir()
        self.mounted = mount(path, f"size={size_kb}k")
        self.full = self.read_only = False
        if not self.mounted:
            self.install_stand_in()

    def fill(self):
        self.full = True
        if self.mounted:
            with contextlib.suppress(OSError), open(self.path / "filler", "wb") as filler:
                while True:
                    filler.write(bytes(1 << 16))

    def make_read_only(self):
        self.read_only = True
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True, capture_output=True)

    def close(self):
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)

    def install_stand_in(self):
        real_open = builtins.open
        disk = self

        def open_on_disk(file, mode="r", *args, **kwargs):
            inside = isinstance(file, (str, os.PathLike)) and str(os.path.abspath(file)).startswith(str(disk.path))
            writing = any(flag in mode for flag in "wax+")
            if inside and writing and disk.read_only:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
            opened = real_open(file, mode, *args, **kwargs)
            return FullFile(opened, disk) if inside and writing else opened

        self.monkeypatch.setattr(builtins, "open", open_on_disk)


class FullFile:
    """A writable file of the stand-in disk: its writes fail with ENOSPC once the disk is full."""

    def __init__(self, file, disk):
        self.file, self.disk = file, disk

    def write(self, blob):
        if self.disk.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.file.write(blob)

    def __getattr__(self, name):  # everything else is the real file's
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.file.close()


def mount(path, options):
    """True when a tmpfs could be mounted at path (root on Linux, with the right to mount)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path, monkeypatch):
    disk = SmallDisk(tmp_path / "disk", monkeypatch)
    yield disk
    disk.close()


def test_a_full_disk_keeps_the_previous_file(small_disk):
    path = small_disk.path / "grades.csv"
    write_atomically(path, lambda file: file.write(b"epoch 1"))
    small_disk.fill()
    with pytest.raises(KitError, match="No space left on device. Its previous version, if any, is intact"):
        write_atomically(path, lambda file: file.write(bytes(1 << 20)))
    assert path.read_bytes() == b"epoch 1"
    assert_clean(small_disk.path)


def test_a_read_only_folder_is_a_message(small_disk):
    path = small_disk.path / "grades.csv"
    write_atomically(path, lambda file: file.write(b"epoch 1"))
    small_disk.make_read_only()
    with pytest.raises(KitError, match="Read-only file system"):
        write_atomically(path, lambda file: file.write(b"epoch 2"))
    assert path.read_bytes() == b"epoch 1"
    assert_clean(small_disk.path)


def test_a_name_too_long_for_the_disk_is_a_message(tmp_path):
    with pytest.raises(KitError, match="File name too long"):
        write_atomically(tmp_path / ("m" * 300 + ".npz"), lambda file: file.write(b"x"))
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_model_dir_is_found_before_the_first_epoch(solution, mnist, small_disk, capsys):
    small_disk.make_read_only()
    assert train_run(solution, mnist, small_disk.path / "model" if not small_disk.mounted else small_disk.path) == 1
    out, err = capsys.readouterr()
    assert "Cannot write in" in err and "--model_dir" in err and "Traceback" not in err
    assert "Epoch" not in out


def test_a_disk_filling_up_during_training_keeps_the_last_epoch(solution, mnist, small_disk, monkeypatch, capsys):
    hook(monkeypatch, np, "savez", small_disk.fill, call=2)  # full when epoch 2 is saved
    assert train_run(solution, mnist, small_disk.path, epochs=3) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    monkeypatch.undo()
    (small_disk.path / "filler").unlink(missing_ok=True)
    assert saved_epoch(small_disk.path / "model.npz") == 1
    assert_clean(small_disk.path)


def test_a_full_disk_at_the_pictures_still_prints_the_test_accuracy(solution, mnist, small_disk, monkeypatch, capsys):
    hook(monkeypatch, checkpoint.ModelFolder, "save_test_pictures", small_disk.fill)
    assert train_run(solution, mnist, small_disk.path, epochs=1) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1].startswith("Test accuracy: ")
    assert "Warning: Could not write" in err and "confusion.png" in err and "Traceback" not in err
    monkeypatch.undo()
    (small_disk.path / "filler").unlink(missing_ok=True)
    assert_clean(small_disk.path)


def test_a_full_data_folder_is_a_message(small_disk, small_idx, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, blob in small_idx["gz"].items():
        (mirror / name).write_bytes(blob)
    small_disk.fill()
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(small_disk.path, [mirror.as_uri()], checksums=small_idx["sha"])
    assert "No space left on device" in str(failure.value)
    assert_clean(small_disk.path)


MAKE_STARTUP = REPO / "tools" / "make_startup.py"


def make_startup(*args):
    return subprocess.run([sys.executable, str(MAKE_STARTUP), *map(str, args)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("trouble", ["read-only", "full"])
def test_make_startup_on_a_read_only_or_full_disk(small_disk, trouble):
    if not small_disk.mounted:
        pytest.skip("needs a tmpfs: the stand-in disk cannot reach into another process")
    small_disk.fill() if trouble == "full" else small_disk.make_read_only()
    done = make_startup("--startup", small_disk.path / "model.py")
    assert done.returncode == 1 and "Could not write" in done.stderr and "Traceback" not in done.stderr
    assert_clean(small_disk.path)
    assert not (small_disk.path / "model.py").exists()


def test_make_startup_with_a_folder_as_startup_or_a_non_utf8_solution(tmp_path):
    for startup in (tmp_path, "/"):
        done = make_startup("--startup", startup)
        assert done.returncode == 1 and "is a folder" in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.tmp"))
    solution = tmp_path / "latin1.py"
    solution.write_bytes("# r\xe9sum\xe9\n".encode("latin-1"))
    done = make_startup("--solution", solution, "--startup", tmp_path / "model.py")
    assert done.returncode == 1 and "not UTF-8" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "model.py").exists()


# ---------------------------------------------------------------------------------------------------- damaged models


@pytest.fixture(scope="module")
def good_model(tmp_path_factory, solution, mnist):
    """A model.npz of two hidden layers, trained one epoch: the source of every damaged copy."""
    folder = tmp_path_factory.mktemp("good")
    with contextlib.redirect_stdout(io.StringIO()):
        assert train_run(solution, mnist, folder, epochs=1, test_pictures=False, hidden=(16, 8)) == 0
    with np.load(folder / "model.npz", allow_pickle=False) as saved:
        return {key: saved[key] for key in saved.files}


def without(key):
    return lambda arrays: {k: v for k, v in arrays.items() if k != key}


def replaced(key, value):
    return lambda arrays: {**arrays, key: value(arrays[key]) if callable(value) else value}


def with_nan(key):
    def damage(value):
        value = value.copy()
        value.flat[3] = np.nan
        return value

    return replaced(key, damage)


DAMAGES = {
    # kind: (damage, a phrase of the message)
    "W1 missing": (without("W1"), "W1 is missing"),
    "a velocity missing": (without("velocity3"), "velocity3 is missing"),
    "epoch missing": (without("epoch"), "epoch is missing"),
    "epochs missing (the kit's first release)": (without("epochs"), "epochs is missing"),
    "format_version missing": (without("format_version"), "not a model.npz of format version 1"),
    "format version 2": (replaced("format_version", np.int64(2)), "not a model.npz of format version 1"),
    "W0 of the wrong shape": (replaced("W0", np.zeros((28, 16), np.float32)), "W0 has shape (28, 16), not (784, 16)"),
    "b2 of the wrong shape": (replaced("b2", np.zeros(10, np.float32)), "b2 has shape (10,), not (1, 10)"),
    "hidden_dims text": (replaced("hidden_dims", np.array(["16", "8"])), "hidden_dims is not a list of whole numbers"),
    "history too short": (replaced("train_loss", np.zeros(0)), "train_loss has shape (0,), not (1,)"),
    "NaN weights": (with_nan("W0"), "W0 holds NaN"),
}


def damaged_file(folder, arrays):
    path = folder / "model.npz"
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    return path


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    from PIL import Image

    path = tmp_path_factory.mktemp("digit") / "one.png"
    page = Image.new("L", (200, 200), 255)
    page.paste(0, (90, 30, 110, 170))
    page.save(path)
    return path


@pytest.mark.parametrize("kind", DAMAGES)
def test_a_damaged_model_is_refused_by_resume_and_the_canvas(solution, mnist, good_model, digit_png, tmp_path,
                                                              capsys, kind):
    damage, phrase = DAMAGES[kind]
    path = damaged_file(tmp_path, damage(good_model))
    before = path.read_bytes()
    with pytest.raises(KitError, match=re.escape(phrase)):
        checkpoint.load(path)

    assert train_run(solution, mnist, tmp_path, epochs=2, resume=True, hidden=(16, 8)) == 1
    out, err = capsys.readouterr()
    assert phrase in err and "Traceback" not in err and "Epoch" not in out
    assert path.read_bytes() == before  # --resume never writes over what it could not read
    assert_clean_except_the_damaged(tmp_path)

    assert canvas.main(SOLUTION, ["--model", str(path), "--image", str(digit_png)]) == 1
    out, err = capsys.readouterr()
    assert phrase in err and "Traceback" not in err and out == ""


def assert_clean_except_the_damaged(folder):
    assert not [p for pattern in TEMPORARY_PATTERNS for p in folder.glob(pattern)]


def test_a_new_run_replaces_a_damaged_model(solution, mnist, good_model, tmp_path, capsys):
    damaged_file(tmp_path, without("W1")(good_model))
    assert train_run(solution, mnist, tmp_path, epochs=1, test_pictures=False) == 0
    assert "holds an earlier run" in capsys.readouterr().out
    assert saved_epoch(tmp_path / "model.npz") == 1


def test_random_damage_to_the_bytes_is_always_a_plain_error(good_model, tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, **good_model)
    blob = buffer.getvalue()
    rng = np.random.default_rng(0)
    path = tmp_path / "model.npz"
    outcomes = {"refused": 0, "unharmed": 0}
    for trial in range(300):
        damaged = bytearray(blob)
        if trial % 3 == 0:
            damaged = damaged[: rng.integers(0, len(blob))]  # cut short (a copy interrupted)
        else:
            for position in rng.integers(0, len(blob), size=1 + trial % 5):  # a few bytes changed (a bad disk)
                damaged[position] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(damaged))
        try:
            checkpoint.load(path)  # a flipped bit in a part no one reads: the model is still whole
            outcomes["unharmed"] += 1
        except KitError:
            outcomes["refused"] += 1
    assert outcomes["refused"] > 250


def test_an_object_array_is_refused_without_running_pickle(good_model, tmp_path):
    arrays = dict(good_model, W0=np.array([object()], dtype=object))
    path = damaged_file(tmp_path, arrays)
    with pytest.raises(KitError, match="not a readable model file"):
        checkpoint.load(path)


# ---------------------------------------------------------------------------------------------------- small things


def test_lr_1e300_suggests_a_learning_rate_worth_trying(solution, mnist, tmp_path, capsys):
    assert train_run(solution, mnist, tmp_path, lr=1e300) == 1
    err = capsys.readouterr().err
    assert "--lr 0.01." in err and "e+" not in err and "Traceback" not in err


@pytest.mark.parametrize("argv, named", [(["--data_dir", ""], "--data_dir"), (["--model_dir", " "], "--model_dir"),
                                         (["--mirror", "http://[::1"], "http://[::1")])
def test_bad_paths_and_urls_are_bad_command_lines(argv, named, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(SOLUTION, argv)
    assert exited.value.code == 2
    assert named in capsys.readouterr().err


def test_a_bad_mnist_mirror_variable_spares_the_checks_and_stops_the_data_stage(monkeypatch, tmp_path):
    monkeypatch.setenv(download.MIRROR_VARIABLE, "http://[::1")
    args = cli.parse_args(SOLUTION, ["--data_dir", str(tmp_path)])  # not an error of the command line
    with pytest.raises(KitError, match=r"'http://\[::1' \(from MNIST_MIRROR\)"):
        run.load_data(args)


def test_a_failing_cleanup_never_hides_the_error(tmp_path, monkeypatch):
    def stubborn(self, missing_ok=False):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(type(tmp_path), "unlink", stubborn)

    def no_room(file):
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(KitError, match="No space left on device.*could not be removed \\(Permission denied\\)"):
        write_atomically(tmp_path / "model.npz", no_room)


def test_run_command_turns_system_failures_into_messages(capsys, tmp_path):
    def full():
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x"))

    def too_big():
        np.ones(2**62, dtype=np.uint8)  # no machine has this much memory

    def closed_pipe():
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def a_bug():
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", "kit/bug")

    assert run_command(full) == 1 and "The disk is full" in capsys.readouterr().err
    assert run_command(too_big) == 1 and "Out of memory" in capsys.readouterr().err
    assert run_command(closed_pipe) == 1
    with pytest.raises(FileNotFoundError):  # a bug in the kit keeps its traceback
        run_command(a_bug)
    with mock.patch.object(sys, "stdout", None):  # started with stdout closed (`>&-`)
        assert run_command(lambda: print("nowhere to go")) == 0


@needs_posix
def test_signals_ignored_by_the_parent_stay_ignored():
    """nohup and background jobs ask for SIGHUP / SIGINT to be ignored: run_command must not undo that."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        def during():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # ignored: nothing happens
            return 0

        assert run_command(during) == 0
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_student_exit_in_model_py_is_reported_with_its_line(tmp_path, capsys):
    tree = tmp_path / "chapter03" / "startup"
    tree.mkdir(parents=True)
    code = (SOLUTION / "model.py").read_text(encoding="utf-8")
    softmax_forward = "class Softmax"
    assert softmax_forward in code
    (tree / "model.py").write_text(code + "\nexit()\n", encoding="utf-8")
    assert cli.main(tree, ["--checks_only"]) == 1
    err = capsys.readouterr().err
    assert "could not be imported: SystemExit" in err and "exit()" in err and "line" in err

    exits = code.replace("def forward(self, x):", "def forward(self, x):\n        import sys\n        sys.exit(3)", 1)
    (tree / "model.py").write_text(exits, encoding="utf-8")
    assert cli.main(tree, ["--checks_only"]) == 1
    out = capsys.readouterr().out
    assert "SystemExit" in out and "sys.exit(3)" in out


def test_errors_module_reports_keyboard_interrupt_outside_run_command_quietly(capsys):
    errors._quiet_interrupt_hook(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert capsys.readouterr().err.strip() == "Interrupted."


def test_zip_members_that_are_not_arrays_are_refused(good_model, tmp_path):
    path = damaged_file(tmp_path, good_model)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("notes.txt", "hello")
    checkpoint.load(path)  # a member that is not an array: ignored, as any other unknown key
    with zipfile.ZipFile(tmp_path / "model.npz", "w") as archive:
        archive.writestr("W0.npy", b"\x93NUMPY garbage")
    with pytest.raises(KitError):
        checkpoint.load(path)


# ---------------------------------------------------------------------------------------------------- Windows


@needs_posix
def test_ctrl_break_is_handled_like_ctrl_c(monkeypatch, capsys):
    monkeypatch.setattr(signal, "SIGBREAK", signal.SIGUSR1, raising=False)  # signal.SIGBREAK exists on Windows only

    def pressed():
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(5)

    assert run_command(pressed) == 130
    assert "Stopped by Ctrl-Break." in capsys.readouterr().err


def refused(monkeypatch, name, times=None, after=0):
    """os.replace onto a file called name is refused (PermissionError, as Windows says WinError 5 or 32 when
    antivirus or OneDrive holds the file) `times` times (None: for good), after `after` allowed ones; replace_file
    then gives up after 0.3 s instead of 5."""
    real, calls = os.replace, itertools.count(1)

    def replace(source, target):
        if Path(target).name == name:
            number = next(calls)
            if number > after and (times is None or number <= after + times):
                raise PermissionError(errno.EACCES, "Access is denied", str(target))
        return real(source, target)

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(files.replace_file, "__defaults__", (0.3,))


def test_a_model_npz_refused_twice_then_allowed_finishes_the_run(solution, mnist, tmp_path, monkeypatch, capsys):
    refused(monkeypatch, "model.npz", times=2)
    assert train_run(solution, mnist, tmp_path, test_pictures=False) == 0
    assert "Warning" not in capsys.readouterr().err and saved_epoch(tmp_path / "model.npz") == 2
    assert_clean(tmp_path)


def test_a_model_npz_refused_for_good_stops_with_the_command_to_continue(solution, mnist, tmp_path, monkeypatch,
                                                                        capsys):
    refused(monkeypatch, "model.npz", after=1)  # epoch 1 saved, epoch 2 refused
    assert train_run(solution, mnist, tmp_path, epochs=3) == 1
    out, err = capsys.readouterr()
    assert err.count("another program keeps it open") == 1 and "OneDrive" in err and "Traceback" not in err
    assert f"--model_dir {tmp_path} --epochs 3" in err and err.rstrip().endswith("--resume")
    assert "Epoch  2/3" not in out and saved_epoch(tmp_path / "model.npz") == 1
    assert_clean(tmp_path)


def test_a_loss_plot_refused_for_good_is_a_warning_and_not_said_saved(solution, mnist, tmp_path, monkeypatch, capsys):
    refused(monkeypatch, "loss.png")
    assert train_run(solution, mnist, tmp_path) == 0
    out, err = capsys.readouterr()
    assert "Warning: Could not replace" in err and "loss.png" in err and "Traceback" not in err
    assert f"Saved in {tmp_path}: model.npz, confusion.png, mistakes.png" in out
    assert not (tmp_path / "loss.png").exists() and out.splitlines()[-1].startswith("Test accuracy: ")

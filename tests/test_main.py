"""main.py end to end on the real MNIST: the default run, artifacts after every epoch, Ctrl-C, --resume, divergence."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from conftest import CHAPTER

SOLUTION_MAIN = CHAPTER / "solution" / "main.py"
STARTUP_MAIN = CHAPTER / "startup" / "main.py"


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory, shared_mnist):
    """A data folder holding the real MNIST, as a student's would after the first download."""
    folder = tmp_path_factory.mktemp("data")
    for file in shared_mnist.glob("*.gz"):
        shutil.copy(file, folder / file.name)
    return folder


def run_main(script, *args, timeout=300):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def saved_epoch(model_dir):
    with np.load(model_dir / "model.npz", allow_pickle=False) as saved:
        return int(saved["epoch"])


class LineReader:
    """Collects a child's stdout lines in a thread, so waiting for a line has a time limit."""

    def __init__(self, process):
        self.lines, self.process = [], process
        self.thread = threading.Thread(target=lambda: self.lines.extend(process.stdout), daemon=True)
        self.thread.start()

    def wait_for(self, prefix, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in list(self.lines) if line.startswith(prefix)]
            if found:
                return found[-1]
            if self.process.poll() is not None and not self.thread.is_alive():
                break
            time.sleep(0.05)
        pytest.fail(f"no line starting with {prefix!r} within {timeout} s; got {self.lines}")


def test_default_run_reaches_the_accuracy_bar_and_saves_every_epoch(mnist_dir, tmp_path):
    model_dir = tmp_path / "model"
    process = subprocess.Popen([sys.executable, str(SOLUTION_MAIN), "--data_dir", str(mnist_dir),
                                "--model_dir", str(model_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, stdin=subprocess.DEVNULL)
    try:
        reader = LineReader(process)
        for epoch in (1, 2, 3):
            reader.wait_for(f"Epoch {epoch:>2}/20", timeout=120)
            assert saved_epoch(model_dir) >= epoch  # written before its summary line is printed
            assert (model_dir / "loss.png").stat().st_size > 1000
        assert process.wait(timeout=300) == 0, process.stderr.read()
        reader.thread.join(timeout=10)
    finally:
        process.kill()
    last_line = reader.lines[-1].strip()
    assert last_line.startswith("Test accuracy: ") and last_line.endswith("%")
    assert float(last_line.split()[-1].rstrip("%")) >= 97.5
    assert saved_epoch(model_dir) == 20
    for picture in ("loss.png", "confusion.png", "mistakes.png"):
        assert (model_dir / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(model_dir.glob("*.tmp"))
    with np.load(model_dir / "model.npz", allow_pickle=False) as saved:
        assert list(saved["hidden_dims"]) == [256, 128] and len(saved["val_acc"]) == 20
        assert saved["W0"].shape == (784, 256) and saved["b2"].shape == (1, 10)


@pytest.mark.skipif(os.name == "nt", reason="SIGINT to a child process is a POSIX test")
def test_ctrl_c_keeps_the_last_epoch_and_resume_finishes_the_same_run(mnist_dir, tmp_path):
    def small_run(model_dir, *more):
        return [SOLUTION_MAIN, "--data_dir", mnist_dir, "--model_dir", model_dir, "--epochs", 3, *more]

    model_dir = tmp_path / "model"
    process = subprocess.Popen([sys.executable, *map(str, small_run(model_dir, "--hidden_dims", 64))],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        LineReader(process).wait_for("Epoch  1/3", timeout=120)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
    stderr = process.stderr.read()
    assert "Traceback" not in stderr
    assert "--epochs 3 --hidden_dims 64 --resume" in stderr  # the command to continue keeps the user's flags
    kept = saved_epoch(model_dir)
    assert kept in (1, 2)  # the signal may land after epoch 2 was saved; never a half-written file

    resumed = run_main(*small_run(model_dir, "--hidden_dims", 64, "--resume"))
    assert resumed.returncode == 0, resumed.stderr
    assert f"{kept} of 3 epochs done" in resumed.stdout
    assert saved_epoch(model_dir) == 3

    straight = run_main(*small_run(tmp_path / "straight", "--hidden_dims", 64))
    assert straight.returncode == 0, straight.stderr
    assert resumed.stdout.splitlines()[-1] == straight.stdout.splitlines()[-1]  # the same test accuracy
    with np.load(model_dir / "model.npz") as a, np.load(tmp_path / "straight" / "model.npz") as b:
        np.testing.assert_array_equal(a["W0"], b["W0"])

    other = run_main(*small_run(model_dir, "--hidden_dims", 32, "--resume"))
    assert other.returncode == 1 and "--hidden_dims 64" in other.stderr and "Traceback" not in other.stderr


@pytest.mark.skipif(os.name == "nt", reason="SIGINT to a child process is a POSIX test")
def test_ctrl_c_before_the_first_epoch_says_nothing_was_saved(mnist_dir, tmp_path):
    process = subprocess.Popen([sys.executable, str(SOLUTION_MAIN), "--data_dir", str(mnist_dir), "--model_dir",
                                str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    try:
        LineReader(process).wait_for("Training ", timeout=60)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 130
    finally:
        process.kill()
    stderr = process.stderr.read()
    assert "nothing was saved" in stderr and "--resume" not in stderr and "Traceback" not in stderr
    assert not (tmp_path / "model.npz").exists() and not list(tmp_path.glob("*.tmp"))


def test_divergence_stops_with_advice_and_keeps_the_last_good_epoch(mnist_dir, tmp_path):
    common = ["--data_dir", mnist_dir, "--model_dir", tmp_path, "--hidden_dims", 32]
    assert run_main(SOLUTION_MAIN, *common, "--epochs", 1).returncode == 0
    diverged = run_main(SOLUTION_MAIN, *common, "--epochs", 2, "--resume", "--lr", "1e38")
    assert diverged.returncode == 1
    assert "smaller learning rate" in diverged.stderr and "Traceback" not in diverged.stderr
    assert saved_epoch(tmp_path) == 1


def test_unfinished_todos_stop_training_with_a_plain_message(mnist_dir, tmp_path):
    result = run_main(STARTUP_MAIN, "--skip_checks", "--epochs", 1, "--data_dir", mnist_dir, "--model_dir", tmp_path)
    assert result.returncode == 1
    assert "--skip_checks" in result.stdout and "Traceback" not in result.stderr
    assert "NotImplementedError" in result.stderr and "model.py, line" in result.stderr


def test_failing_checks_stop_the_run_before_the_data(tmp_path):
    result = run_main(STARTUP_MAIN, "--data_dir", tmp_path / "nowhere", "--model_dir", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("argv, named", [(["--batch_size", "0"], "batch_size"), (["--mirror", "ftp://x/"], "ftp://x/")])
def test_bad_command_line_exits_2_without_a_traceback(argv, named):
    result = run_main(SOLUTION_MAIN, *argv)
    assert result.returncode == 2 and "Traceback" not in result.stderr and named in result.stderr

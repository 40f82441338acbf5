"""main.py end to end on the real MNIST: the default run, artifacts after every epoch, Ctrl-C, --resume, divergence,
a run that does not learn and its diagnosis, BLAS threads; the run in Chinese, on Windows-like consoles and shells,
and a check run that imports only what checking needs."""

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from chapter03.common import cli, data, diagnose, run, train
from conftest import CHAPTER, SOLUTION_MODEL, english_words

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
        # One thread forced: the same seed gives the same bits only at the same thread count (OpenBLAS's products
        # differ in their last bit between 1 and 2 threads), and the default chooses the count by measuring.
        return [SOLUTION_MAIN, "--data_dir", mnist_dir, "--model_dir", model_dir, "--epochs", 3, "--blas_threads", 1,
                *more]

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
    assert "--epochs 3 --blas_threads 1 --hidden_dims 64 --resume" in stderr  # the user's flags kept
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

    finished = run_main(*small_run(model_dir, "--hidden_dims", 32, "--resume"))  # its 3 epochs are done
    assert finished.returncode == 0 and "Nothing to do" in finished.stdout
    assert "That run was trained with --hidden_dims 64; your flags say --hidden_dims 32." in finished.stdout
    other = run_main(*small_run(model_dir, "--hidden_dims", 32, "--resume", "--epochs", 4))
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


@pytest.mark.handed_out_startup
def test_unfinished_todos_stop_training_with_a_plain_message(mnist_dir, tmp_path):
    result = run_main(STARTUP_MAIN, "--skip_checks", "--epochs", 1, "--data_dir", mnist_dir, "--model_dir", tmp_path)
    assert result.returncode == 1
    assert "--skip_checks" in result.stdout and "Traceback" not in result.stderr
    assert "NotImplementedError" in result.stderr and "model.py, line" in result.stderr


@pytest.mark.handed_out_startup
def test_failing_checks_stop_the_run_before_the_data(tmp_path):
    result = run_main(STARTUP_MAIN, "--data_dir", tmp_path / "nowhere", "--model_dir", tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("argv, named", [(["--batch_size", "0"], "batch_size"), (["--mirror", "ftp://x/"], "ftp://x/")])
def test_bad_command_line_exits_2_without_a_traceback(argv, named):
    result = run_main(SOLUTION_MAIN, *argv)
    assert result.returncode == 2 and "Traceback" not in result.stderr and named in result.stderr


# ---------------------------------------------------------------------------------------------------------------
# A run that does not learn stops after its first epoch, keeps it, and says why


ACCUMULATES = ("self.W.grad = self.x.T @ grad_output", "self.W.grad += self.x.T @ grad_output")  # passes one call


def student_tree(folder, *edits):
    """folder/chapter03/startup/model.py: the solution with edits, as a student's finished file might be."""
    tree = folder / "chapter03" / "startup"
    tree.mkdir(parents=True)
    text = SOLUTION_MODEL.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tree / "model.py").write_text(text, encoding="utf-8")
    return tree


def test_a_huge_learning_rate_stops_after_one_epoch_and_a_rate_is_suggested(mnist_dir, tmp_path):
    result = run_main(SOLUTION_MAIN, "--data_dir", mnist_dir, "--model_dir", tmp_path, "--hidden_dims", 32,
                      "--epochs", 2, "--lr", 10000)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Epoch  1/2" in result.stdout and "Epoch  2/2" not in result.stdout
    assert saved_epoch(tmp_path) == 1 and f"The last epoch (1) is kept in {tmp_path / 'model.npz'}" in result.stderr
    assert "hardly more than guessing" in result.stderr
    err = " ".join(result.stderr.split())  # the report is wrapped to the width of a terminal
    assert "These are the reference layers: the settings are at fault" in err
    assert re.search(r"Train with --lr (1|0\.1|0\.01|0\.001) \(", err), err


@pytest.fixture
def no_time_limit(monkeypatch):
    """The diagnosis stops after a few seconds; on a machine busy with other work that may come before it can tell.
    The tests want the same outcome on every machine: its trials are bounded by their steps all the same."""
    monkeypatch.setattr(diagnose, "BUDGET_SECONDS", 3600)


def test_an_accumulating_gradient_with_skip_checks_is_blamed_on_linear_backward(mnist_dir, tmp_path, capsys,
                                                                                no_time_limit):
    tree = student_tree(tmp_path, ACCUMULATES)
    status = cli.main(tree, ["--skip_checks", "--data_dir", str(mnist_dir), "--model_dir", str(tmp_path / "model"),
                             "--epochs", "2"])
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in err
    assert "Epoch  1/2" in out and "Epoch  2/2" not in out and saved_epoch(tmp_path / "model") == 1
    assert "--skip_checks: training although the checks above FAIL" in out
    assert "With the reference Linear the network learns: look at Linear.backward" in " ".join(err.split())
    assert "Some checks failed (you trained with --skip_checks)" in " ".join(err.split())
    diagnosis = err[err.index("Diagnosis:"):]
    assert re.search(r"yours, with the reference Linear +\d+% right   learns", diagnosis)
    assert not re.search(r"yours, with the reference (Sigmoid|Softmax|CrossEntropyLoss) .*learns", diagnosis)


@pytest.fixture(scope="module")
def small_mnist(mnist_dir):
    """The real MNIST with 8,000 training images: an epoch in a fraction of a second."""
    mnist = data.load_mnist(mnist_dir)
    return mnist._replace(train_images=mnist.train_images[:8000], train_labels=mnist.train_labels[:8000])


def main_in_process(tree, mnist, model_dir, *flags, monkeypatch):
    """main.py of tree in this process on `mnist` (its checks taken as passed): the exit status."""
    monkeypatch.setattr(run, "load_data", lambda args: mnist)
    monkeypatch.setattr(run, "check_layers", lambda *args: True)
    return cli.main(tree, ["--model_dir", str(model_dir), "--hidden_dims", "32", "--epochs", "2", *map(str, flags)])


def test_a_tiny_learning_rate_stops_and_a_larger_one_is_suggested(small_mnist, tmp_path, capsys, no_time_limit,
                                                                  monkeypatch):
    tree = student_tree(tmp_path)  # the reference's code, in a student's file
    assert main_in_process(tree, small_mnist, tmp_path / "model", "--lr", "1e-6", "--momentum", "0",
                           monkeypatch=monkeypatch) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "Even the reference layers do not learn at lr 1e-06: the learning rate is at fault" in err
    assert re.search(r"Train with --lr (1|0\.1|0\.01) \(", err), err


def test_resuming_a_finished_run_has_nothing_to_do_and_names_the_saved_settings(small_mnist, tmp_path, capsys,
                                                                                 monkeypatch):
    model_dir = tmp_path / "model"
    solution = CHAPTER / "solution"
    assert main_in_process(solution, small_mnist, model_dir, "--epochs", 1, monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "1 epoch." in out and "1 epochs" not in out
    before = (model_dir / "model.npz").read_bytes()

    assert main_in_process(solution, small_mnist, model_dir, "--epochs", 1, "--resume", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert f"Nothing to do: {model_dir / 'model.npz'} already holds 1 epoch of training" in out
    assert "That run was trained with" not in out and "Test accuracy" not in out

    assert main_in_process(solution, small_mnist, model_dir, "--epochs", 1, "--lr", 0.1, "--seed", 3, "--resume",
                           monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "That run was trained with --lr 0.01, --seed 0; your flags say --lr 0.1, --seed 3." in out
    assert (model_dir / "model.npz").read_bytes() == before


def blas_threads_now():
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_training_times_each_blas_thread_count_unless_told(mnist_dir, tmp_path, monkeypatch, capsys):
    from coursekit import blas  # here, not at the top: this test is the only one that needs it

    # The checks run before the threads are set: their matrices (30 x 8 at most) are too small for BLAS to split.
    seen = {"training": [], "tried": set()}
    real_epoch, real_use = train.train_one_epoch, blas.ThreadChooser.use

    def epoch(*args, **kwargs):
        seen["training"].append(blas_threads_now())
        return real_epoch(*args, **kwargs)

    def use(chooser, threads):
        seen["tried"].add(threads)
        real_use(chooser, threads)
        assert blas_threads_now() == {threads}

    monkeypatch.setattr(train, "train_one_epoch", epoch)
    monkeypatch.setattr(blas.ThreadChooser, "use", use)
    before = blas_threads_now()
    common = ["--data_dir", str(mnist_dir), "--model_dir", str(tmp_path), "--hidden_dims", "16", "--epochs", "1"]
    assert cli.main(CHAPTER / "solution", common) == 0
    assert seen["training"] == [{1}]  # one thread until the batches have been timed
    most = max(before)
    assert {1, most} <= seen["tried"] if most > 1 else not seen["tried"]  # on 2 cores: 1 and 2
    assert blas_threads_now() == before  # the setting comes back with the end of the run
    seen["tried"].clear()
    assert cli.main(CHAPTER / "solution", [*common, "--blas_threads", "2", "--model_dir", str(tmp_path / "2")]) == 0
    assert seen["training"][-1] == {2} and not seen["tried"]  # forced: nothing is timed
    capsys.readouterr()


# ---------------------------------------------------------------------------------------------------------------
# In Chinese, everything the run prints; laptops (GBK consoles, Windows shells, old consoles); a fast check run

# What may stay in Latin letters in Chinese text: names of code, formats and libraries.
def test_a_two_epoch_run_in_chinese_prints_no_english_word(small_mnist, tmp_path, capsys, monkeypatch):
    model_dir = tmp_path / "model"
    assert main_in_process(CHAPTER / "solution", small_mnist, model_dir, "--lang", "zh", monkeypatch=monkeypatch) == 0
    assert main_in_process(CHAPTER / "solution", small_mnist, model_dir, "--lang", "zh", monkeypatch=monkeypatch) == 0
    assert main_in_process(CHAPTER / "solution", small_mnist, model_dir, "--lang", "zh", "--resume",
                           monkeypatch=monkeypatch) == 0
    out, err = capsys.readouterr()
    assert re.search(r"^第 2/2 轮  训练损失 \d\.\d{4} 准确率 +\d+\.\d\d%  验证损失 .* 秒$", out, re.M), out
    assert "训练 784-32-10，共 8,000 张图片：学习率 0.01，动量 0.95，批大小 64，2 轮。" in out
    assert re.search(r"^测试准确率：\d+\.\d\d%$", out, re.M) and "model.npz、loss.png" in out
    assert "没有要做的" in out  # the third run: --resume of a finished run
    assert english_words(out + err) == []


def test_help_and_command_line_errors_in_chinese(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(CHAPTER / "startup", ["--help", "--lang", "zh"])
    out = capsys.readouterr().out
    assert out.startswith("用法：") and "\n选项：\n" in out and "显示这段帮助，然后退出" in out
    assert "--blas_threads N" in out
    assert english_words(out) == []
    with pytest.raises(SystemExit) as exited:
        cli.parse_args(CHAPTER / "startup", ["--lang", "zh", "--epochs", "0"])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "错误：参数 --epochs：需要一个 >= 1 的整数，得到的是 '0'" in err
    assert english_words(err) == []


def test_a_check_run_imports_neither_plotting_nor_the_download_stack():
    code = ("import runpy, sys; sys.argv = [sys.argv[1], '--checks_only']\ntry:\n"
            "    runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit as done:\n"
            "    print(done.code, sorted({'matplotlib', 'requests', 'tqdm', 'urllib3'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code, str(SOLUTION_MAIN)], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout[-2000:] + result.stderr


def test_a_gbk_console_shows_a_path_it_cannot_encode_without_a_traceback(small_mnist, tmp_path, monkeypatch):
    gbk = io.TextIOWrapper(io.BytesIO(), encoding="gbk")  # a redirected stdout on a Chinese Windows: strict
    monkeypatch.setattr(sys, "stdout", gbk)
    model_dir = tmp_path / "模型\U0001f600"  # the emoji is not in GBK
    assert main_in_process(CHAPTER / "solution", small_mnist, model_dir, "--epochs", 1, monkeypatch=monkeypatch) == 0
    gbk.flush()
    out = gbk.buffer.getvalue().decode("gbk")
    assert "模型?" in out and out.splitlines()[-1].startswith("Test accuracy: ")


def test_the_resume_command_is_quoted_for_the_shell_it_runs_in(monkeypatch):
    argv = ["--model_dir", "My Models", "--lr", "0.1"]
    assert cli.resume_command("solution", argv) == "python chapter03/solution/main.py --model_dir 'My Models' " \
                                                   "--lr 0.1 --resume"
    monkeypatch.setattr(os, "name", "nt")  # cmd.exe and PowerShell: double quotes
    windows = cli.resume_command("solution", argv)
    monkeypatch.undo()
    assert windows == 'python chapter03/solution/main.py --model_dir "My Models" --lr 0.1 --resume'
    assert cli.resume_command("startup", ["--resume"]) == "python chapter03/startup/main.py --resume"


class Console(io.TextIOWrapper):
    def isatty(self):
        return True


@pytest.mark.parametrize("encoding, ascii_only", [("utf-8", False), ("cp936", True), ("cp437", True)])
def test_the_progress_bar_is_ascii_where_the_console_is_not_utf8(monkeypatch, encoding, ascii_only):
    console = Console(io.BytesIO(), encoding=encoding, errors="strict")
    monkeypatch.setattr(sys, "stderr", console)
    config = run.Config((32,), 0.01, 0.9, 64, 2, 0)
    with run.progress_bar(1, config, 64 * 50) as progress:
        for batch in (1, 21, 41):
            time.sleep(0.25)  # the bar redraws at most every 0.2 s
            progress(batch, 0.5, 0.9)
    console.flush()
    drawn = console.buffer.getvalue()
    assert drawn and drawn.isascii() == ascii_only

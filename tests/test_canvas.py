"""handwriting_canvas.py: --image end to end, its failures, and the real window driven by mouse events under Xvfb."""

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
from PIL import Image

from chapter03.common import canvas, checkpoint
from chapter03.common.run import Config
from chapter03.common.train import SGD
from conftest import CHAPTER, STARTUP_MODEL

SOLUTION = CHAPTER / "solution"
SCRIPT = SOLUTION / "handwriting_canvas.py"
TRAIN_COUNT, EPOCHS = 5000, 4  # enough for about 90% on MNIST's test digits, in a second or two


def save_model(path, model, hidden_dims=(32,)):
    config = Config(tuple(hidden_dims), lr=0.1, momentum=0.0, batch_size=64, epochs=EPOCHS, seed=0)
    checkpoint.save(path, model, SGD(model.parameters(), config.lr), config, EPOCHS,
                    {key: [0.5] * EPOCHS for key in checkpoint.HISTORY_KEYS})
    return path


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory, solution):
    """A model.npz of random weights: enough to check formats and the window, where no MNIST is at hand."""
    model = solution.MLP(784, [32], 10, rng=np.random.default_rng(0))
    return save_model(tmp_path_factory.mktemp("untrained") / "model.npz", model)


@pytest.fixture(scope="session")
def mnist_test_digits(shared_mnist):
    from chapter03.common import data

    mnist = data.load_mnist(shared_mnist)
    return mnist, mnist.test_images.reshape(-1, 28, 28), mnist.test_labels


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory, solution, mnist_test_digits):
    """The solution MLP trained a little on real MNIST with plain SGD, saved as main.py would."""
    mnist = mnist_test_digits[0]
    rng = np.random.default_rng(0)
    model = solution.MLP(784, [64], 10, rng=rng)
    loss_fn = solution.CrossEntropyLoss()
    images = ((mnist.train_images[:TRAIN_COUNT] / 255 - 0.1307) / 0.3081).astype(np.float32)
    targets = np.eye(10, dtype=np.float32)[mnist.train_labels[:TRAIN_COUNT]]
    for _ in range(EPOCHS):
        order = rng.permutation(TRAIN_COUNT)
        for start in range(0, TRAIN_COUNT, 64):
            batch = order[start : start + 64]
            loss_fn(model(images[batch]), targets[batch])
            model.backward(loss_fn.backward())
            for param in model.parameters():
                param.data -= 0.1 * param.grad
    return save_model(tmp_path_factory.mktemp("trained") / "model.npz", model, hidden_dims=(64,))


def redrawn(digit, size, left, top, canvas_size=400):
    """A 28 x 28 MNIST digit (light on dark) drawn dark on a light canvas, its longer side `size` pixels."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    digit = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = size / max(digit.shape)
    width, height = round(digit.shape[1] * scale), round(digit.shape[0] * scale)
    big = np.asarray(Image.fromarray(digit).resize((width, height), Image.Resampling.BILINEAR))
    page = np.full((canvas_size, canvas_size), 255, dtype=np.uint8)
    page[top : top + height, left : left + width] = 255 - big
    return Image.fromarray(page)


def run_script(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=env)


# ---------------------------------------------------------------------------------------------------- --image


def test_image_prints_the_prediction_then_ten_probabilities(untrained_model, tmp_path):
    image = tmp_path / "drawing.png"
    page = Image.new("L", (300, 200), 255)
    page.paste(0, (140, 30, 160, 170))
    page.save(image)
    result = run_script("--model", untrained_model, "--image", image)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 11 and lines[0].startswith("prediction: ")
    probs = np.array([float(line.split(": ")[1]) for line in lines[1:]])
    assert [line.split(":")[0] for line in lines[1:]] == [str(digit) for digit in range(10)]
    assert probs.sum() == pytest.approx(1, abs=1e-3)
    assert lines[0] == f"prediction: {probs.argmax()}"


def test_image_reads_mnist_digits_redrawn_large_anywhere(trained_model, mnist_test_digits, tmp_path, capsys):
    _, images, labels = mnist_test_digits
    rng = np.random.default_rng(1)
    right = 0
    for image, label in zip(images[:30], labels[:30]):
        size = rng.integers(150, 331)
        left, top = rng.integers(0, 400 - size, 2)
        redrawn(image, size, left, top).save(tmp_path / "digit.png")
        assert canvas.main(SOLUTION, ["--model", str(trained_model), "--image", str(tmp_path / "digit.png")]) == 0
        right += capsys.readouterr().out.startswith(f"prediction: {label}\n")
    assert right >= 24  # this small model gets about 90% of MNIST's own test digits right


def test_image_with_light_strokes_on_dark_is_read_inverted(trained_model, mnist_test_digits, tmp_path, capsys):
    _, images, labels = mnist_test_digits
    right = 0
    for image, label in zip(images[:10], labels[:10]):
        Image.fromarray(image).save(tmp_path / "mnist.png")  # as MNIST stores it: white on black, 28 x 28
        assert canvas.main(SOLUTION, ["--model", str(trained_model), "--image", str(tmp_path / "mnist.png")]) == 0
        captured = capsys.readouterr()
        assert "inverted" in captured.err
        right += captured.out.startswith(f"prediction: {label}\n")
    assert right >= 8


def test_blank_or_unreadable_image_exits_1_with_a_message(untrained_model, tmp_path, capsys):
    Image.new("RGB", (200, 200), "white").save(tmp_path / "blank.png")
    (tmp_path / "notes.png").write_text("not an image", encoding="utf-8")
    for name, message in [("blank.png", "blank"), ("notes.png", "Cannot read"), ("absent.png", "No image file")]:
        assert canvas.main(SOLUTION, ["--model", str(untrained_model), "--image", str(tmp_path / name)]) == 1
        captured = capsys.readouterr()
        assert message in captured.err and name in captured.err
        assert captured.out == ""


# ---------------------------------------------------------------------------------------------------- failures


def test_no_model_yet_says_the_command_that_trains_one(tmp_path, capsys):
    tree = tmp_path / "chapter03" / "startup"  # a fresh clone: the tree, but no model/startup/model.npz yet
    tree.mkdir(parents=True)
    shutil.copy(SOLUTION / "model.py", tree / "model.py")
    assert canvas.main(tree, []) == 1
    err = capsys.readouterr().err
    assert str(tmp_path / "model" / "startup" / "model.npz") in err
    assert "    python chapter03/startup/main.py\n" in err


def test_missing_model_exits_1_without_traceback(tmp_path):
    missing = tmp_path / "elsewhere" / "model.npz"
    result = run_script("--model", missing)
    assert result.returncode == 1
    assert f"python chapter03/solution/main.py --model_dir {missing.parent}" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_unreadable_model_exits_1(tmp_path, capsys):
    (tmp_path / "model.npz").write_bytes(b"PK\x03\x04 half a zip file")
    assert canvas.main(SOLUTION, ["--model", str(tmp_path / "model.npz"), "--image", "x.png"]) == 1
    assert "not a readable model file" in capsys.readouterr().err


@pytest.mark.handed_out_startup
def test_unfinished_model_py_says_finish_the_todos(untrained_model, tmp_path, capsys):
    # The network is tried once before anything else, so the image is not even read.
    assert canvas.main(STARTUP_MODEL.parent, ["--model", str(untrained_model), "--image", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "finish the TODOs in model.py first" in err and "Linear.forward" in err


def test_a_bug_in_model_py_is_shown_with_its_line(untrained_model, tmp_path, capsys):
    tree = tmp_path / "chapter03" / "startup"
    tree.mkdir(parents=True)
    code = (SOLUTION / "model.py").read_text(encoding="utf-8")
    correct = "return x @ self.W.data + self.b.data"
    assert correct in code
    (tree / "model.py").write_text(code.replace(correct, "return x @ self.W.data.T + self.b.data"), encoding="utf-8")
    assert canvas.main(tree, ["--model", str(untrained_model), "--image", "x.png"]) == 1
    err = capsys.readouterr().err
    assert "model.py failed while reading a digit: ValueError" in err and "self.W.data.T" in err
    assert "Traceback" not in err


def tree_with(tmp_path, replace, by):
    """A startup tree whose model.py is the solution's with `replace` changed to `by`."""
    tree = tmp_path / "chapter03" / "startup"
    tree.mkdir(parents=True)
    code = (SOLUTION / "model.py").read_text(encoding="utf-8")
    assert replace in code
    (tree / "model.py").write_text(code.replace(replace, by, 1), encoding="utf-8")
    return tree


def test_exit_in_model_py_is_shown_with_its_line(untrained_model, tmp_path, capsys):
    tree = tree_with(tmp_path, "return x @ self.W.data + self.b.data", "import sys; sys.exit(3)")
    assert canvas.main(tree, ["--model", str(untrained_model), "--image", "x.png"]) == 1
    err = capsys.readouterr().err
    assert "SystemExit" in err and "sys.exit(3)" in err and "line" in err and "Traceback" not in err


def test_a_network_giving_nan_is_not_read_as_a_zero(untrained_model, tmp_path, capsys):
    tree = tree_with(tmp_path, "return x @ self.W.data + self.b.data", "return x @ self.W.data + np.nan")
    assert canvas.main(tree, ["--model", str(untrained_model), "--image", "x.png"]) == 1
    captured = capsys.readouterr()
    assert "nan" in captured.err and "not ten probabilities" in captured.err and captured.out == ""


def test_nan_weights_in_model_npz_are_refused(untrained_model, tmp_path, capsys):
    with np.load(untrained_model, allow_pickle=False) as saved:
        arrays = {key: saved[key] for key in saved.files}
    arrays["W1"] = arrays["W1"] * np.nan
    np.savez(tmp_path / "model.npz", **arrays)
    assert canvas.main(SOLUTION, ["--model", str(tmp_path / "model.npz"), "--image", "x.png"]) == 1
    captured = capsys.readouterr()
    assert "W1 holds NaN" in captured.err and captured.out == ""


@pytest.mark.skipif(os.name == "nt", reason="a pipe closed before the child writes: POSIX")
def test_output_into_a_closed_pipe_ends_quietly(untrained_model, tmp_path):
    image = tmp_path / "one.png"
    page = Image.new("L", (200, 200), 255)
    page.paste(0, (90, 30, 110, 170))
    page.save(image)
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` that has already stopped reading
    try:
        result = subprocess.run([sys.executable, str(SCRIPT), "--model", str(untrained_model), "--image", str(image)],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
                                stdin=subprocess.DEVNULL)
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""  # no traceback, and no "Exception ignored" from Python's last flush


def test_bad_command_line_exits_2():
    with pytest.raises(SystemExit) as exit_info:
        canvas.main(SOLUTION, ["--imag", "x.png", "--nonsense"])
    assert exit_info.value.code == 2


def test_without_tk_says_how_to_get_it(untrained_model):
    # A Python without Tk: `import tkinter` fails. Setting sys.modules["tkinter"] = None does exactly that.
    code = ("import runpy, sys; sys.modules['tkinter'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code, str(SCRIPT), "--model", str(untrained_model)],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert "has no Tk" in result.stderr and "--image FILE" in result.stderr and "Traceback" not in result.stderr


VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.parametrize("problem, platform, environ, advice", [
    (None, "linux", {}, ["sudo apt install python3-tk", "sudo dnf install python3-tkinter", "has no Tk"]),
    (None, "darwin", {}, [f"brew install python-tk@{VERSION}", "python.org"]),
    (None, "win32", {}, ["tick 'tcl/tk and IDLE'", "make the .venv again"]),
    # A venv made from a Python whose Tcl/Tk files are missing (or not where Tk looks):
    ("Can't find a usable init.tcl in the following directories: ...", "win32", {},
     ["Tk could not start (Can't find a usable init.tcl", "tcl/tk and IDLE", "TCL_LIBRARY="]),
    ("no display name and no $DISPLAY environment variable", "linux", {"WSL_DISTRO_NAME": "Ubuntu"},
     ["No screen", "WSLg", "wsl --update", "--image FILE"]),
    ("couldn't connect to display \":0\"", "linux", {}, ["No screen", "ssh -X", "--image FILE"]),
])
def test_tk_failures_say_what_to_do_on_each_system(problem, platform, environ, advice):
    message = canvas.tk_failure(problem, platform, environ)
    for words in advice:
        assert words in message


def test_the_window_is_dpi_aware_on_windows_and_scaled(monkeypatch):
    calls = []
    shcore = types.SimpleNamespace(SetProcessDpiAwareness=calls.append)
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(shcore=shcore), raising=False)
    monkeypatch.setattr(canvas.sys, "platform", "win32")
    monkeypatch.setattr(canvas, "tk", types.SimpleNamespace(Tk=lambda: "root", TclError=RuntimeError))
    assert canvas.start_tk() == "root" and calls == [1]  # before Tk starts
    assert [canvas.screen_scale(dpi) for dpi in (72, 96, 120, 144, 192)] == [1, 1, 1.25, 1.5, 2]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11's DISPLAY is Linux's")
def test_without_a_display_says_so(untrained_model):
    pytest.importorskip("tkinter")
    env = {key: value for key, value in os.environ.items() if key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = run_script("--model", untrained_model, env=env)
    assert result.returncode == 1
    assert "No screen" in result.stderr and "--image" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------------- the window


@pytest.fixture(scope="module")
def display():
    """A virtual X screen (Xvfb) on a free display number, for the module's tests; stopped at the end."""
    pytest.importorskip("tkinter")
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt install xvfb xdotool); .ci/run installs both")
    # -displayfd 1: Xvfb picks a free display number itself and writes it on stdout once it is ready.
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        number = LineReader(server).next_line(timeout=20)
        if not number.strip().isdigit():
            pytest.fail(f"Xvfb did not start (it printed {number!r})")
        yield f":{number.strip()}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class LineReader:
    """Collects a child's stdout lines in a thread, so that waiting for one has a time limit."""

    def __init__(self, process):
        self.lines, self.process = [], process
        self.thread = threading.Thread(target=lambda: self.lines.extend(process.stdout), daemon=True)
        self.thread.start()

    def next_line(self, timeout):
        return self.wait_for("", timeout)

    def wait_for(self, prefix, timeout, after=0):
        """The first line from number `after` on that starts with prefix; fails after timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines[after:] if line.startswith(prefix)]
            if found:
                return found[0]
            if not self.thread.is_alive():
                break
            time.sleep(0.05)
        pytest.fail(f"no line starting with {prefix!r} within {timeout} s; got {self.lines}")


def xdotool(display, *args):
    return subprocess.run(["xdotool", *map(str, args)], env={**os.environ, "DISPLAY": display},
                          capture_output=True, text=True, timeout=30, check=True).stdout


def draw_stroke(display, window, points):
    """Press the left button at the first point, move through the others, release: one stroke of the mouse.
    Points are in pixels from the window's top-left corner; the canvas starts about 10 pixels in."""
    (x, y), *rest = points
    xdotool(display, "mousemove", "--window", window, x, y, "mousedown", "1")
    for x, y in rest:
        xdotool(display, "mousemove", "--window", window, x, y)
    xdotool(display, "mouseup", "1")


@pytest.mark.parametrize("quit_with", ["q", "Escape", "Ctrl-C"])
def test_window_reads_strokes_and_quits(display, untrained_model, quit_with):
    app = subprocess.Popen([sys.executable, str(SCRIPT), "--model", str(untrained_model)],
                           env={**os.environ, "DISPLAY": display}, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        output = LineReader(app)
        window = xdotool(display, "search", "--sync", "--onlyvisible", "--name", canvas.TITLE).split()[0]
        one = [(200, y) for y in range(80, 340, 20)]  # a `1` down the middle of the canvas
        draw_stroke(display, window, one)
        assert output.wait_for("prediction: ", timeout=20).strip()[-1].isdigit()
        seven = [(120, 90), (200, 90), (280, 90), (250, 160), (220, 230), (190, 300)]
        draw_stroke(display, window, seven)
        output.wait_for("prediction: ", timeout=20, after=1)  # every stroke gives a new reading

        if quit_with == "Ctrl-C":  # in the terminal the window was started from
            app.send_signal(signal.SIGINT)
            assert app.wait(timeout=10) == 130
        else:
            xdotool(display, "windowfocus", "--sync", window)  # no window manager gives it the focus
            xdotool(display, "key", quit_with)
            assert app.wait(timeout=10) == 0
        assert "Traceback" not in app.stderr.read()
    finally:
        if app.poll() is None:
            app.kill()
        app.wait(timeout=10)

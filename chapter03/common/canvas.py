"""The command line and the drawing window of handwriting_canvas.py.

    python chapter03/startup/handwriting_canvas.py                  # a window: draw a digit, see what the network reads
    python chapter03/startup/handwriting_canvas.py --image 7.png    # no window: read one image file

The network is the MLP of the tree the script sits in (its model.py), with the weights main.py saved in model.npz.
Exit status: 0 success; 1 a failure explained in plain words (no model yet, no Tk, no display, an unreadable
image); 2 a bad command line; 130 interrupted by Ctrl-C.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from coursekit.errors import KitError, run_command, silence_stdout
from coursekit.files import shown_path
from coursekit.i18n import choose_language, console_encoding, say, speaking
from coursekit.student_code import explain_exception, load_model_module, raised_in

from . import checkpoint, digit_image

try:
    import tkinter as tk
except ImportError:  # a Python built without Tk: --image still works, the window says how to get Tk
    tk = None

CANVAS_SIZE = 400  # pixels: room for a mouse
# The brush's diameter as a fraction of the canvas. MNIST's strokes are 2 to 3 pixels thick in a 20-pixel box, so a
# digit drawn 150 to 330 pixels tall needs a brush of about 30 pixels for the same proportions: with 0.08, digits
# drawn with the brush carry as much ink as MNIST's (benchmarks/bench_canvas.py measures it, for several widths).
BRUSH_FRACTION = 0.08
PREVIEW_ZOOM = 4  # the 28 x 28 preview is shown 112 x 112
BAR_LENGTH = 180  # pixels of a probability bar at 100%
TITLE = "Handwriting canvas"
INK, PAPER = "black", "white"
BAR_COLOR, WINNER_COLOR = "#9db4d8", "#d0542c"


def main(tree_dir, argv=None):
    """Run handwriting_canvas.py of the tree in `tree_dir` (chapter03/startup or chapter03/solution): the window, or
    with --image the prediction for one file. Returns the exit status."""
    tree_dir = Path(tree_dir)
    args = parse_args(tree_dir, argv)
    with speaking(choose_language(None, console_encoding())[0]):  # the locale's language, as main.py's default
        return run_command(show_predictions, args.model, tree_dir, args.image)


def show_predictions(model_path, tree_dir, image):
    """The window, or with an image file its prediction printed."""
    network = Network(model_path, tree_dir)
    if image is not None:
        print_prediction(network, image)
    else:
        open_window(network)


def parse_args(tree_dir, argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python chapter03/{tree_dir.name}/handwriting_canvas.py",
        description="Draw digits with the mouse and watch the network trained by main.py read them.",
        allow_abbrev=False,  # strict, as main.py: a mistyped flag is an error
    )
    parser.add_argument("--model", type=Path, default=default_model_path(tree_dir), metavar="PATH",
                        help=f"the model.npz to use (default: <repo>/model/{tree_dir.name}/model.npz)")
    parser.add_argument("--image", type=Path, metavar="FILE",
                        help="no window: read this image (dark strokes on a light background, any size), print "
                             "'prediction: D' and the ten probabilities")
    return parser.parse_args(argv)


def default_model_path(tree_dir):
    repo = tree_dir.parent.parent
    return repo / "model" / tree_dir.name / "model.npz"


# ---------------------------------------------------------------------------------------------------- the network


class Network:
    """The MLP of a tree's model.py with the weights and the input normalization saved in model.npz."""

    def __init__(self, model_path, tree_dir):
        self.path = Path(model_path)
        self.model_file = tree_dir / "model.py"
        if not self.path.is_file():
            raise KitError(no_model_message(self.path, tree_dir))
        self.saved = checkpoint.load(self.path)
        shape = (int(self.saved["input_dim"]), int(self.saved["output_dim"]))
        if shape != (digit_image.SIZE**2, 10):
            raise KitError(f"{self.path} maps {shape[0]} inputs to {shape[1]} classes; the canvas needs a model of "
                           f"28 x 28 = 784 pixels to 10 digits.")
        model_module = load_model_module(self.model_file)
        self.model = self.run_student_code(checkpoint.build_model, self.saved, model_module)
        self.probabilities(np.zeros((digit_image.SIZE, digit_image.SIZE), dtype=np.float32))  # fail now, not later

    def probabilities(self, pixels):
        """pixels (28, 28) in [0, 1], light on dark -> the ten probabilities (10,), one per digit."""
        inputs = checkpoint.prepare_inputs(pixels.reshape(1, -1), self.saved)
        probs = self.run_student_code(self.model, inputs)
        try:
            probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            probs = None
        if probs is None or probs.shape != (10,) or not np.isfinite(probs).all():
            shown = "something that is not an array" if probs is None else np.array2string(probs, precision=3)
            raise KitError(f"The network of {shown_path(self.model_file)} gave {shown} for a digit, not ten "
                           "probabilities: check its forward methods (python chapter03/"
                           f"{self.model_file.parent.name}/main.py --checks_only).")
        return probs

    def run_student_code(self, function, *args):
        """function(*args), with an error raised inside model.py turned into a plain message."""
        try:
            return function(*args)
        except NotImplementedError as exc:
            raise KitError(f"{shown_path(self.model_file)} is not finished yet ({exc}).\n"
                           "To use the canvas, finish the TODOs in model.py first, then train the network:\n"
                           f"    python chapter03/{self.model_file.parent.name}/main.py") from None
        except (Exception, SystemExit) as exc:  # SystemExit: an exit() left in model.py
            if not raised_in(exc, self.model_file):
                raise  # a bug in the kit itself: keep the traceback
            raise KitError(f"{self.model_file.name} failed while reading a digit: "
                           f"{explain_exception(exc, self.model_file)}") from None

    def description(self):
        """For the status line, e.g. 'model/solution/model.npz   784-256-128-10, epoch 20'."""
        sizes = [int(self.saved["input_dim"]), *map(int, self.saved["hidden_dims"]), int(self.saved["output_dim"])]
        return f"{shown_path(self.path)}   {'-'.join(map(str, sizes))}, epoch {int(self.saved['epoch'])}"


def no_model_message(path, tree_dir):
    command = f"python chapter03/{tree_dir.name}/main.py"
    if path.resolve() != default_model_path(tree_dir).resolve():
        command += f" --model_dir {path.parent}"
    return say(f"No trained model at {path}. Train one first:\n    {command}",
               f"{path} 处还没有训练好的模型。先训练一个：\n    {command}")


# ---------------------------------------------------------------------------------------------------- --image


def print_prediction(network, image_path):
    """Read the image file, print 'prediction: D' and then the ten probabilities, one per line ('0: 0.0012')."""
    gray = digit_image.read_image(image_path)
    if digit_image.is_light_on_dark(gray):
        print(say(f"{image_path.name} has light strokes on a dark background: reading it inverted.",
                  f"{image_path.name} 是深色背景上的浅色笔画：反色后再识别。"), file=sys.stderr)
        gray = 1 - gray
    pixels = digit_image.to_mnist(gray)
    if pixels is None:
        raise KitError(say(f"{image_path} is blank: there is no dark stroke on it to read.",
                           f"{image_path} 是空白的：上面没有可以识别的深色笔画。"))
    probs = network.probabilities(pixels)
    print(f"prediction: {probs.argmax()}")
    for digit, prob in enumerate(probs):
        print(f"{digit}: {prob:.4f}")


# ---------------------------------------------------------------------------------------------------- the window


def open_window(network):
    """Show the window until it is closed (q, Escape, or its close button)."""
    root = start_tk()
    window = Window(root, network)
    root.mainloop()
    if window.error is not None:
        raise window.error


def start_tk():
    """A Tk root window, or KitError saying how to get Tk or why there is no screen to show it on."""
    if tk is None:
        raise KitError(say(
            "This Python has no Tk (the tkinter module), which the window needs. To get it:\n"
            "    Linux:   sudo apt install python3-tk   (Fedora: sudo dnf install python3-tkinter)\n"
            "    macOS:   use the installer from python.org, or: brew install python-tk\n"
            "    Windows: run the python.org installer again, choose Modify, tick 'tcl/tk and IDLE'\n"
            "Without a window, --image FILE reads a digit from an image file.",
            "这个 Python 没有 Tk（tkinter 模块），而窗口需要它。安装方法：\n"
            "    Linux：  sudo apt install python3-tk   （Fedora：sudo dnf install python3-tkinter）\n"
            "    macOS：  用 python.org 的安装包，或者：brew install python-tk\n"
            "    Windows：重新运行 python.org 的安装程序，选 Modify，勾选“tcl/tk and IDLE”\n"
            "没有窗口时，--image FILE 可以识别图片文件里的数字。"
        ))
    try:
        return tk.Tk()
    except tk.TclError as exc:
        if "display" in str(exc):
            raise KitError(say(f"No screen to open the window on ({exc}). Run it on a desktop, or over ssh with "
                               "ssh -X; without a window, --image FILE reads a digit from an image file.",
                               f"没有可以打开窗口的屏幕（{exc}）。请在桌面环境里运行，或者用 ssh -X；没有窗口时，"
                               "--image FILE 可以识别图片文件里的数字。")) from None
        raise KitError(f"Tk could not start: {exc}") from None


class Window:
    """The drawing canvas on the left; the prediction, what the network sees and the ten probabilities on the right.

    Every stroke is drawn twice: on the Tk canvas (what you see) and into a Sketch (what the network reads).
    The prediction is made when the mouse button is released, and also printed as 'prediction: D'.
    """

    def __init__(self, root, network):
        self.root = root
        self.network = network
        self.brush = round(BRUSH_FRACTION * CANVAS_SIZE)
        self.sketch = digit_image.Sketch(CANVAS_SIZE, self.brush)
        self.last_point = None  # where the mouse was at the previous event of the stroke being drawn
        self.error = None  # a KitError raised while the window was open, raised again once it is closed
        root.title(TITLE)
        root.resizable(False, False)
        self.build_widgets()
        self.bind_events()
        self.clear()
        keep_ctrl_c_working(root)

    def build_widgets(self):
        root = self.root
        self.canvas = tk.Canvas(root, width=CANVAS_SIZE, height=CANVAS_SIZE, bg=PAPER, cursor="crosshair",
                                highlightthickness=1, highlightbackground="grey")
        self.canvas.grid(row=0, column=0, rowspan=2, padx=10, pady=10)

        side = tk.Frame(root)
        side.grid(row=0, column=1, sticky="n", padx=(0, 10), pady=10)
        tk.Label(side, text=say("The network reads", "网络认为是")).grid(row=0, column=0)
        tk.Label(side, text=say("It sees", "它看到的")).grid(row=0, column=1)
        self.digit_label = tk.Label(side, font=("Helvetica", 72, "bold"), width=2)
        self.digit_label.grid(row=1, column=0)
        zoomed = digit_image.SIZE * PREVIEW_ZOOM
        self.preview = tk.PhotoImage(width=zoomed, height=zoomed)
        tk.Label(side, image=self.preview, borderwidth=1, relief="solid").grid(row=1, column=1, padx=(10, 0))
        self.bars = tk.Canvas(side, width=BAR_LENGTH + 80, height=10 * 22, highlightthickness=0)
        self.bars.grid(row=2, column=0, columnspan=2, pady=(15, 0))

        buttons = tk.Frame(root)
        buttons.grid(row=1, column=1, sticky="s", pady=10)
        tk.Button(buttons, text=say("Clear (c)", "清空 (c)"), command=self.clear).pack(side="left", padx=5)
        tk.Button(buttons, text=say("Quit (q)", "退出 (q)"), command=root.destroy).pack(side="left", padx=5)
        tk.Label(root, text=self.network.description(), anchor="w", fg="grey25").grid(
            row=2, column=0, columnspan=2, sticky="we", padx=10, pady=(0, 8))

    def bind_events(self):
        self.canvas.bind("<ButtonPress-1>", self.start_stroke)
        self.canvas.bind("<B1-Motion>", self.continue_stroke)
        self.canvas.bind("<ButtonRelease-1>", self.end_stroke)
        for key in ("c", "C"):
            self.root.bind(f"<Key-{key}>", lambda event: self.clear())
        for key in ("q", "Q", "Escape"):
            self.root.bind(f"<Key-{key}>", lambda event: self.root.destroy())
        self.root.protocol("WM_DELETE_WINDOW", self.root.destroy)
        self.root.report_callback_exception = self.report_error

    # ------------------------------------------------------------------ drawing

    def start_stroke(self, event):
        self.canvas.delete("hint")
        radius = self.brush / 2
        self.canvas.create_oval(event.x - radius, event.y - radius, event.x + radius, event.y + radius,
                                fill=INK, outline=INK)
        self.sketch.dot(event.x, event.y)
        self.last_point = (event.x, event.y)

    def continue_stroke(self, event):
        if self.last_point is None:  # the button was pressed outside the canvas
            return
        x0, y0 = self.last_point
        self.canvas.create_line(x0, y0, event.x, event.y, width=self.brush, fill=INK, capstyle="round",
                                joinstyle="round")
        self.sketch.line(x0, y0, event.x, event.y)
        self.last_point = (event.x, event.y)

    def end_stroke(self, event):
        self.last_point = None
        self.predict()

    def clear(self):
        self.canvas.delete("all")
        self.sketch.clear()
        self.show_nothing()
        self.show_hint()

    def show_hint(self):
        """Grey words on the empty canvas (on the screen only: the Sketch the network reads stays blank)."""
        self.canvas.create_text(CANVAS_SIZE / 2, CANVAS_SIZE / 2, text=say("Draw a digit here", "在这里写一个数字"),
                                fill="grey60", font=("Helvetica", 16), tags="hint")

    # ------------------------------------------------------------------ reading

    def predict(self):
        pixels = digit_image.to_mnist(self.sketch.gray())
        if pixels is None:  # nothing drawn: no guess
            self.show_nothing()
            return
        probs = self.network.probabilities(pixels)
        self.show(pixels, probs)
        try:
            print(f"prediction: {probs.argmax()}", flush=True)
        except BrokenPipeError:  # the output went into a program that has stopped reading: the window goes on
            silence_stdout()

    def show_nothing(self):
        self.digit_label.configure(text="")
        self.show_preview(np.zeros((digit_image.SIZE, digit_image.SIZE)))
        self.show_bars(np.zeros(10))

    def show(self, pixels, probs):
        self.digit_label.configure(text=str(probs.argmax()))
        self.show_preview(pixels)
        self.show_bars(probs)

    def show_preview(self, pixels):
        """pixels (28, 28) in [0, 1] -> the preview image, each pixel a PREVIEW_ZOOM x PREVIEW_ZOOM grey square."""
        levels = np.round(pixels * 255).astype(int).repeat(PREVIEW_ZOOM, axis=0).repeat(PREVIEW_ZOOM, axis=1)
        # PhotoImage.put takes rows of colors: "{#000000 #0a0a0a ...} {...}"
        rows = ("{" + " ".join(f"#{level:02x}{level:02x}{level:02x}" for level in row) + "}" for row in levels)
        self.preview.put(" ".join(rows))

    def show_bars(self, probs):
        """One horizontal bar per digit, as long as its probability; the most probable one in another color."""
        self.bars.delete("all")
        winner = probs.argmax() if probs.any() else None
        for digit, prob in enumerate(probs):
            top = digit * 22
            color = WINNER_COLOR if digit == winner else BAR_COLOR
            self.bars.create_text(8, top + 10, text=str(digit), font=("Helvetica", 12, "bold"))
            self.bars.create_rectangle(20, top + 3, 20 + BAR_LENGTH, top + 18, outline="grey80")
            if prob > 0:
                self.bars.create_rectangle(20, top + 3, 20 + prob * BAR_LENGTH, top + 18, fill=color, width=0)
            self.bars.create_text(BAR_LENGTH + 26, top + 10, text=f"{prob:.0%}" if winner is not None else "",
                                  anchor="w")

    def report_error(self, exc_type, exc, traceback):
        """Tk calls this when an event handler raised. Ctrl-C and a KitError (say, model.py failing) close the
        window and end the program as they would without a window; anything else is a bug: show the traceback."""
        if isinstance(exc, (KitError, KeyboardInterrupt)):
            self.error = exc
            self.root.destroy()
        else:
            tk.Tk.report_callback_exception(self.root, exc_type, exc, traceback)


def keep_ctrl_c_working(root):
    """Python handles Ctrl-C only when it runs some Python code, and Tk's main loop is not Python: waking it up
    a few times a second lets Ctrl-C in the terminal close the window."""
    root.after(200, keep_ctrl_c_working, root)

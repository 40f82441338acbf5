"""handwriting_canvas.py: a window to draw digits in and see what the network reads, or with --image FILE the reading
of one image file. Exits 1 with a message when there is no model yet, no Tk, no screen or no readable image."""

import argparse
import os
import sys
from pathlib import Path

import numpy as np

from coursekit.errors import KitError, run_command
from coursekit.files import shown_path
from coursekit.i18n import choose_language, console_encoding, say, speaking
from coursekit.student_code import explain_exception, load_model_module, raised_in

from . import checkpoint, digit_image

try:
    import tkinter as tk
except ImportError:  # a Python built without Tk: --image still works, the window says how to get Tk
    tk = None

CANVAS_SIZE = 400  # pixels at 100% screen scaling: room for a mouse
BRUSH_FRACTION = 0.08  # the brush's diameter / the canvas's: digits as inky as MNIST's (benchmarks/bench_canvas.py)
PREVIEW_ZOOM = 4  # the 28 x 28 preview is shown 112 x 112
BAR_LENGTH, BAR_ROW = 180, 22  # pixels of a probability bar at 100%, and of its row
TITLE = "Handwriting canvas"
INK, PAPER, BAR_COLOR, WINNER_COLOR = "black", "white", "#9db4d8", "#d0542c"
NOTHING_DRAWN, NO_PROBABILITIES = np.zeros((digit_image.SIZE, digit_image.SIZE)), np.zeros(10)


def main(tree_dir, argv=None):
    """handwriting_canvas.py of the tree in tree_dir (chapter03/startup or solution); returns the exit status."""
    parser = argparse.ArgumentParser(prog=f"python chapter03/{tree_dir.name}/handwriting_canvas.py",
                                     description="Draw digits and watch the network trained by main.py read them.",
                                     allow_abbrev=False)
    parser.add_argument("--model", type=Path, default=default_model_path(tree_dir), metavar="PATH",
                        help=f"the model.npz to use (default: <repo>/model/{tree_dir.name}/model.npz)")
    parser.add_argument("--image", type=Path, metavar="FILE", help="no window: read this image (dark strokes on a "
                        "light background, any size), print 'prediction: D' and the ten probabilities")
    args = parser.parse_args(argv)
    with speaking(choose_language(None, console_encoding())[0]):  # the locale's language, as main.py's default
        return run_command(show_predictions, args.model, tree_dir, args.image)


def show_predictions(model_path, tree_dir, image):
    network = Network(model_path, tree_dir)
    if image is not None:
        return print_prediction(network, image)
    root = start_tk()
    window = Window(root, network, screen_scale(root.winfo_fpixels("1i")))
    root.mainloop()  # until the window is closed: q, Escape, its close button
    if window.error is not None:
        raise window.error


def default_model_path(tree_dir):
    return tree_dir.parent.parent / "model" / tree_dir.name / "model.npz"


class Network:
    """The MLP of a tree's model.py with the weights and the input normalization saved in model.npz."""

    def __init__(self, model_path, tree_dir):
        self.path, self.model_file = model_path, tree_dir / "model.py"
        self.command = f"python chapter03/{tree_dir.name}/main.py"  # the run that trains this tree's model.npz
        if not self.path.is_file():
            command = self.command
            if self.path.resolve() != default_model_path(tree_dir).resolve():
                command += f" --model_dir {self.path.parent}"
            raise KitError(say(f"No trained model at {self.path}. Train one first:\n    {command}",
                               f"{self.path} 处还没有训练好的模型。先训练一个：\n    {command}"))
        self.saved = checkpoint.load(self.path)
        self.model = self.run_student_code(checkpoint.build_model, self.saved, load_model_module(self.model_file))
        self.probabilities(NOTHING_DRAWN)  # fail now, not later

    def probabilities(self, pixels):
        """pixels (28, 28) in [0, 1], light on dark -> the ten probabilities (10,), one per digit."""
        probs = self.run_student_code(self.model, checkpoint.prepare_inputs(pixels.reshape(1, -1), self.saved))
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)  # a forward that returns None gives [nan]
        if probs.shape != (10,) or not np.isfinite(probs).all():  # else a NaN would be read as the digit 0
            shown, command = np.array2string(probs, precision=3), f"{self.command} --checks_only"
            raise KitError(say(f"The network of {shown_path(self.model_file)} gave {shown} for a digit, not ten "
                               f"probabilities: check its forward methods ({command}).",
                               f"{shown_path(self.model_file)} 的网络对一个数字给出了 {shown}，而不是十个概率："
                               f"请检查它的 forward 方法（{command}）。"))
        return probs

    def run_student_code(self, function, *args):
        """function(*args), with an error raised inside model.py turned into a plain message."""
        try:
            return function(*args)
        except NotImplementedError as exc:
            raise KitError(say(f"{shown_path(self.model_file)} is not finished yet ({exc}).\nTo use the canvas, "
                               f"finish the TODOs in model.py first, then train the network:\n    {self.command}",
                               f"{shown_path(self.model_file)} 还没有写完（{exc}）。\n要使用画板，先完成 model.py "
                               f"里的 TODO，再训练网络：\n    {self.command}")) from None
        except (Exception, SystemExit) as exc:  # SystemExit: an exit() left in model.py
            if not raised_in(exc, self.model_file):
                raise  # a bug in the kit itself: keep the traceback
            why = explain_exception(exc, self.model_file)
            raise KitError(say(f"{self.model_file.name} failed while reading a digit: {why}",
                               f"{self.model_file.name} 在识别数字时出错：{why}")) from None


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


def start_tk():
    """A Tk root window, or KitError saying how to get Tk or why there is no screen to show it on."""
    if tk is None:
        raise KitError(tk_failure(None))
    if sys.platform == "win32":
        try:  # Windows scales (stretches, blurs) the window of a program that does not say it handles the scale
            import ctypes
            ctypes.windll.shcore.SetProcessDpiAwareness(1)  # 1: system DPI aware; sizes follow screen_scale
        except (AttributeError, OSError):  # Windows 7 and 8.0 have no shcore: the window is just stretched
            pass
    try:
        return tk.Tk()
    except tk.TclError as exc:
        raise KitError(tk_failure(str(exc))) from None


def screen_scale(pixels_per_inch):
    """How much larger than at 100% (96 pixels per inch) the window is drawn: 1.25 to 2 on most laptops, never less."""
    return max(1.0, pixels_per_inch / 96)


def tk_failure(problem, platform_name=sys.platform, environ=os.environ):
    """The message for a Tk that cannot start: problem is the TclError's text, or None when there is no tkinter."""
    if problem and "display" in problem.lower():
        what = say(f"No screen to open the window on ({problem})", f"没有可以打开窗口的屏幕（{problem}）")
        how = say("run it on a desktop, or over ssh with ssh -X", "请在桌面环境里运行，或者用 ssh -X")
        if "WSL_DISTRO_NAME" in environ:  # set in every WSL shell
            how = say("in WSL, Windows 11 shows Linux windows (WSLg): run wsl --update in Windows, then "
                      "wsl --shutdown, and open the terminal again", "在 WSL 里，Windows 11 可以显示 Linux 的窗口"
                      "（WSLg）：在 Windows 里运行 wsl --update，再运行 wsl --shutdown，然后重新打开终端")
    else:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        tcl = Path(sys.base_prefix) / "tcl" / "tcl8.6"
        how = {
            "win32": say("run the python.org installer again, choose Modify, tick 'tcl/tk and IDLE', and make the "
                         f".venv again; or tell Tk where its files are: set TCL_LIBRARY={tcl}", "重新运行 python.org "
                         "的安装程序，选 Modify，勾选“tcl/tk and IDLE”，再重新创建 .venv；或者告诉 Tk 它的文件在"
                         f"哪里：set TCL_LIBRARY={tcl}"),
            "darwin": say(f"with Homebrew's Python, brew install python-tk@{version}; else the installer from "
                          "python.org", f"用 Homebrew 的 Python 时：brew install python-tk@{version}；否则用 "
                          "python.org 的安装包"),
        }.get(platform_name, say("sudo apt install python3-tk (Fedora: sudo dnf install python3-tkinter)",
                                 "sudo apt install python3-tk（Fedora：sudo dnf install python3-tkinter）"))
        what = say(f"Tk could not start ({problem})", f"Tk 无法启动（{problem}）") if problem else \
            say("This Python has no Tk (the tkinter module), which the window needs",
                "这个 Python 没有 Tk（tkinter 模块），而窗口需要它")
    return say(f"{what}. To get a window: {how}.\nWithout one, --image FILE reads a digit from an image file.",
               f"{what}。解决办法：{how}。\n没有窗口时，--image FILE 可以识别图片文件里的数字。")


class Window:
    """Left the canvas; right the digit read, what the network sees and the ten probabilities. A stroke goes on the Tk
    canvas (what you see) and into a Sketch (what the network reads on release); pixel sizes are times `scale`."""

    def __init__(self, root, network, scale):
        self.root, self.network, self.scale = root, network, scale
        self.size = round(CANVAS_SIZE * scale)
        self.brush = round(BRUSH_FRACTION * self.size)
        self.sketch = digit_image.Sketch(self.size, self.brush)
        self.last_point = None  # where the mouse was at the previous event of the stroke being drawn
        self.error = None  # a KitError or Ctrl-C while the window was open, raised again once it is closed
        root.title(TITLE)
        root.resizable(False, False)
        pad = round(10 * scale)
        self.canvas = tk.Canvas(root, width=self.size, height=self.size, bg=PAPER, cursor="crosshair",
                                highlightthickness=1, highlightbackground="grey")
        self.canvas.grid(row=0, column=0, rowspan=2, padx=pad, pady=pad)
        side = tk.Frame(root)
        side.grid(row=0, column=1, sticky="n", padx=(0, pad), pady=pad)
        tk.Label(side, text=say("The network reads", "网络认为是")).grid(row=0, column=0)
        tk.Label(side, text=say("It sees", "它看到的")).grid(row=0, column=1)
        self.digit_label = tk.Label(side, font=("Helvetica", 72, "bold"), width=2)  # points: Tk scales them itself
        self.digit_label.grid(row=1, column=0)
        self.zoom = round(PREVIEW_ZOOM * self.scale)
        self.preview = tk.PhotoImage(width=digit_image.SIZE * self.zoom, height=digit_image.SIZE * self.zoom)
        tk.Label(side, image=self.preview, borderwidth=1, relief="solid").grid(row=1, column=1, padx=(pad, 0))
        self.bars = tk.Canvas(side, width=(BAR_LENGTH + 80) * self.scale, height=10 * BAR_ROW * self.scale,
                              highlightthickness=0)
        self.bars.grid(row=2, column=0, columnspan=2, pady=(pad, 0))
        buttons = tk.Frame(root)
        buttons.grid(row=1, column=1, sticky="s", pady=pad)
        tk.Button(buttons, text=say("Clear (c)", "清空 (c)"), command=self.clear).pack(side="left", padx=5)
        tk.Button(buttons, text=say("Quit (q)", "退出 (q)"), command=root.destroy).pack(side="left", padx=5)
        saved = network.saved  # the status line, e.g. 'model/solution/model.npz   784-256-128-10, epoch 20'
        sizes = "-".join(map(str, [int(saved["input_dim"]), *map(int, saved["hidden_dims"]), int(saved["output_dim"])]))
        tk.Label(root, text=f"{shown_path(network.path)}   {sizes}, epoch {int(saved['epoch'])}", anchor="w",
                 fg="grey25").grid(row=2, column=0, columnspan=2, sticky="we", padx=pad, pady=(0, pad))
        self.canvas.bind("<ButtonPress-1>", self.start_stroke)
        self.canvas.bind("<B1-Motion>", self.continue_stroke)
        self.canvas.bind("<ButtonRelease-1>", self.end_stroke)
        for key in ("c", "C"):
            root.bind(f"<Key-{key}>", lambda event: self.clear())
        for key in ("q", "Q", "Escape"):
            root.bind(f"<Key-{key}>", lambda event: root.destroy())
        root.report_callback_exception = self.report_error
        self.clear()
        keep_ctrl_c_working(root)

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
        pixels = digit_image.to_mnist(self.sketch.gray())
        if pixels is None:  # nothing drawn: no guess
            return self.show()
        probs = self.network.probabilities(pixels)
        self.show(pixels, probs)
        print(f"prediction: {probs.argmax()}", flush=True)

    def clear(self):
        """An empty canvas with grey words on it (on the screen only: the Sketch the network reads stays blank)."""
        self.canvas.delete("all")
        self.sketch.clear()
        self.show()
        self.canvas.create_text(self.size / 2, self.size / 2, text=say("Draw a digit here", "在这里写一个数字"),
                                fill="grey60", font=("Helvetica", 16), tags="hint")

    def show(self, pixels=NOTHING_DRAWN, probs=NO_PROBABILITIES):
        """The digit read (none: all probs 0, as nothing drawn), pixels (28, 28) in [0, 1] as the preview, the bars."""
        winner = probs.argmax() if probs.any() else None
        self.digit_label.configure(text="" if winner is None else str(winner))
        levels = np.round(pixels * 255).astype(int).repeat(self.zoom, axis=0).repeat(self.zoom, axis=1)
        self.preview.put(" ".join("{" + " ".join(f"#{v:02x}{v:02x}{v:02x}" for v in row) + "}" for row in levels))
        self.bars.delete("all")
        for digit, prob in enumerate(probs):  # drawn at 100%, then scaled (Canvas.scale moves every point)
            top = digit * BAR_ROW
            self.bars.create_text(8, top + 10, text=str(digit), font=("Helvetica", 12, "bold"))
            self.bars.create_rectangle(20, top + 3, 20 + BAR_LENGTH, top + 18, outline="grey80")
            if prob > 0:
                self.bars.create_rectangle(20, top + 3, 20 + prob * BAR_LENGTH, top + 18, width=0,
                                           fill=WINNER_COLOR if digit == winner else BAR_COLOR)
            self.bars.create_text(BAR_LENGTH + 26, top + 10, anchor="w", text="" if winner is None else f"{prob:.0%}")
        self.bars.scale("all", 0, 0, self.scale, self.scale)

    def report_error(self, exc_type, exc, traceback):
        """An event handler raised: Ctrl-C or a KitError (model.py failing) ends the program as without a window."""
        if isinstance(exc, (KitError, KeyboardInterrupt)):
            self.error = exc
            self.root.destroy()
        else:
            tk.Tk.report_callback_exception(self.root, exc_type, exc, traceback)


def keep_ctrl_c_working(root):
    """Python handles Ctrl-C only when it runs Python code, and Tk's main loop is not Python: waking it up a few
    times a second lets Ctrl-C in the terminal close the window."""
    root.after(200, keep_ctrl_c_working, root)

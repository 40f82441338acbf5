"""The command line of main.py: its flags in the run's language (argparse's own words too), checked before anything
runs (a bad one: a message and exit 2); and the command that continues a stopped run, quoted for its shell."""

import argparse
import contextlib
import os
import re
import runpy
import shlex
import sys
from pathlib import Path

from coursekit.blas import DEFAULT_THREADS
from coursekit.errors import KitError, run_command
from coursekit.explain import find_check
from coursekit.i18n import LANGUAGES, choose_language, console_encoding, say, speaking
from coursekit.report import selected

from .checks import CHECKS
from .tasks import TASKS

REPO = Path(__file__).resolve().parents[2]
# argparse's own words, in Chinese (argparse looks each up through its module's `_` when it prints them)
ARGPARSE_ZH = {"usage: ": "用法：", "options": "选项", "optional arguments": "选项", "show this help message and exit":
               "显示这段帮助，然后退出", "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
               "unrecognized arguments: %s": "不认识的参数：%s", "expected one argument": "需要一个值",
               "expected at least one argument": "至少需要一个值",
               "invalid choice: %(value)r (choose from %(choices)s)": "无效的选择：%(value)r（可选：%(choices)s）"}


def main(tree_dir, argv=None):
    """main.py of chapter03/<tree_dir's name>, run in this process on the model.py in tree_dir (tests, tools)."""
    recipe = runpy.run_path(str(REPO / "chapter03" / "startup" / "main.py"), run_name="main_py")  # = solution's
    with speaking(None):  # the language main.py sets, for this run only
        return run_command(recipe["main"], argv, Path(tree_dir))


def parse_args(tree_dir, argv=None):
    """The flags of main.py of the tree in tree_dir, as argparse's Namespace, with .lang the run's language."""
    argv = sys.argv[1:] if argv is None else argv
    values = [arg.partition("=")[2] for arg in argv if arg.startswith("--lang=")]  # argparse checks --lang later
    values += [value for flag, value in zip(argv, argv[1:]) if flag == "--lang"]
    lang, note = choose_language(next((value for value in values if value in LANGUAGES), None), console_encoding())
    english = argparse._
    if lang == "zh":
        argparse._ = lambda text: ARGPARSE_ZH.get(text, english(text))
    try:
        with speaking(lang):
            flags = parser(tree_dir.name)
            args = flags.parse_args(argv)
            args.lang = lang
            check_selection(flags, args)
    finally:
        argparse._ = english
    if note:
        print(note)
    return args


class Parser(argparse.ArgumentParser):
    """argparse's, with the Chinese its `_` misses: a section title's colon, "argument --x:" (before Python 3.11)."""

    def format_help(self):
        return super().format_help().replace("选项:\n", "选项：\n")  # English has no 选项

    def error(self, message):
        super().error(say(message, re.sub(r"^argument (\S+): ", r"参数 \1：", message)))


def parser(tree):
    parser = Parser(
        prog=f"python chapter03/{tree}/main.py", allow_abbrev=False,  # a mistyped --epoch is an error, not a guess
        description=say("Check the layers in model.py, then train a multilayer perceptron on MNIST and test it.",
                        "检查 model.py 里的各层，然后在 MNIST 上训练一个多层感知机并测试。"),
        epilog=say("Hyphenated spellings (--batch-size) work too. Details: chapter03/README.md.",
                   "带连字符的写法（--batch-size）也可以。详见 chapter03/README.md。"))

    def flag(name, en, zh, **kwargs):
        parser.add_argument(*dict.fromkeys([f"--{name}", f"--{name.replace('_', '-')}"]), help=say(en, zh), **kwargs)

    flag("hidden_dims", "hidden layer sizes (default: 256 128)", "隐藏层的大小（默认：256 128）",
         type=positive_int, nargs="+", default=[256, 128], metavar="N")
    flag("lr", "learning rate (default: 0.01)", "学习率（默认：0.01）", type=positive_float, default=0.01, metavar="F")
    flag("batch_size", "batch size (default: 64)", "批大小（默认：64）", type=positive_int, default=64, metavar="N")
    flag("epochs", "epochs (default: 20)", "训练轮数（默认：20）", type=positive_int, default=20, metavar="N")
    flag("momentum", "SGD momentum in [0, 1); 0 is the handout's plain SGD (default: 0.95)", "SGD 的动量，在 [0, 1) "
         "之间；0 就是讲义的普通 SGD（默认：0.95）", type=momentum_value, default=0.95, metavar="F")
    flag("seed", "random seed: same seed, same run (default: 0)", "随机种子：种子相同，训练过程就相同（默认：0）",
         type=non_negative_int, default=0, metavar="N")
    flag("data_dir", "where MNIST is looked for and downloaded to (default: <repo>/data)",
         "在哪里找 MNIST、下载到哪里（默认：<repo>/data）", type=folder_path, default=REPO / "data", metavar="P")
    flag("model_dir", f"where checkpoints and plots go (default: <repo>/model/{tree})", f"模型和图保存在哪里（默认："
         f"<repo>/model/{tree}）", type=folder_path, default=REPO / "model" / tree, metavar="P")
    flag("mirror", "a base URL serving the four MNIST .gz files, tried before the built-in mirrors; repeatable; "
         "http(s):// or file://. The variable MNIST_MIRROR (URLs separated by spaces) does the same",
         "提供 MNIST 四个 .gz 文件的网址，先于内置镜像尝试；可以给多次；http(s):// 或 file://。环境变量 "
         "MNIST_MIRROR（多个网址用空格隔开）作用相同", action="append", default=[], metavar="URL")
    flag("checks_only", "run the correctness checks and exit", "只运行正确性检查，然后退出", action="store_true")
    flag("skip_checks", "train even though checks fail", "检查没通过也照样训练", action="store_true")
    flag("download_only", "fetch and verify MNIST, then exit", "下载并校验 MNIST，然后退出", action="store_true")
    flag("resume", "continue from <model_dir>/model.npz", "从 <model_dir>/model.npz 接着训练", action="store_true")
    flag("blas_threads", "threads for NumPy's matrix products (default: 0, chosen during the run by timing training "
         "batches at 1, 2, ... threads, and timed again from time to time, so that a machine that becomes busy is "
         "followed; N forces N threads)", "NumPy 矩阵乘法用的线程数（默认：0，训练时给 1、2……个线程下的训练批次计时，"
         "选最快的，并不时重新计时，机器变忙时跟着调整；N 表示固定用 N 个线程）", type=non_negative_int,
         default=DEFAULT_THREADS, metavar="N")
    flag("lang", "language of the messages: zh (Chinese) or en (default: Chinese under a Chinese locale, else "
         "English)", "提示的语言：zh（中文）或 en（英文）（默认：中文系统用中文，否则用英文）", choices=LANGUAGES)
    flag("only", "run only the checks of one class (e.g. Softmax) or task number (e.g. 3), then exit",
         "只运行一个类（例如 Softmax）或一个任务编号（例如 3）的检查，然后退出", metavar="CLASS|TASK")
    flag("explain", 'run one check (e.g. "Softmax.backward dx"), showing its inputs, expected and actual values and '
         "wrong entries as Python you can paste; then exit", "运行一项检查（例如 \"Softmax.backward dx\"），用可以直接"
         "粘贴运行的 Python 代码列出它的输入、期望值、实际得到的值和错的元素，然后退出", metavar="CHECK")
    return parser


def check_selection(flags, args):
    """Exit 2, saying why, unless --mirror is usable and --only and --explain name checks that exist."""
    if args.mirror:
        from . import download  # here: a run without --mirror that only checks does not import the download stack

        try:
            download.check_mirror_urls(args.mirror, "--mirror")
        except KitError as error:
            flags.error(str(error))
    if args.only and args.explain:
        flags.error(say("use --only or --explain, not both", "--only 和 --explain 只能用一个"))
    if args.only and not selected(CHECKS, args.only):
        classes = ", ".join(task.cls for task in TASKS)
        numbers = ", ".join(str(task.number) for task in TASKS if task.number is not None)
        flags.error(say(f"--only {args.only}: no class or task of that name; one of {classes}, or a task number "
                        f"({numbers})", f"--only {args.only}：没有这个类或任务；可以是 {classes} 之一，"
                        f"或者任务编号（{numbers}）"))
    if args.explain:
        args.explain_check, candidates = find_check(CHECKS, args.explain)
        if args.explain_check is None:
            names = "\n  ".join(check.name for check in (candidates or CHECKS))
            matches = say(f"matches {'several checks' if candidates else 'no check'}",
                          "对应了好几项检查" if candidates else "没有对应的检查")
            flags.error(say(f"--explain {args.explain!r} {matches}; give one of these names (in quotes):\n  {names}",
                            f"--explain {args.explain!r} {matches}；请给出下面的一个名字（加引号）：\n  {names}"))


def resume_command(tree, argv=None):
    """The command that continues this run, quoted for its shell (cmd.exe and PowerShell: double quotes)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    quote = shlex.quote if os.name != "nt" else (
        lambda arg: arg if arg and not re.search(r'[\s"&|<>^%;,()\']', arg) else '"' + arg.replace('"', '\\"') + '"')
    argv += [] if "--resume" in argv else ["--resume"]
    return " ".join([f"python chapter03/{tree}/main.py", *map(quote, argv)])


def folder_path(text):
    """A folder; an empty one ('' from an unset shell variable) is an error, not the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError(say("expected a folder, got an empty path (write . for the current folder)",
                                             "需要一个文件夹，得到的却是空路径（当前文件夹请写 .）"))
    return Path(text)


def number(kind, is_valid, en, zh):
    """An argparse type: text -> a number of `kind` for which is_valid holds, else a message saying what is expected."""

    def parse(text):
        with contextlib.suppress(ValueError):  # not a number: the message below
            if is_valid(value := kind(text)):
                return value
        raise argparse.ArgumentTypeError(say(f"expected {en}, got {text!r}", f"需要{zh}，得到的是 {text!r}"))

    return parse


positive_int = number(int, lambda n: n >= 1, "a whole number >= 1", "一个 >= 1 的整数")
non_negative_int = number(int, lambda n: n >= 0, "a whole number >= 0", "一个 >= 0 的整数")
positive_float = number(float, lambda x: 0 < x < float("inf"), "a number > 0", "一个 > 0 的数")
momentum_value = number(float, lambda x: 0 <= x < 1, "a number in [0, 1)", "一个在 [0, 1) 之间的数")

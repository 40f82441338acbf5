"""The command line of main.py. A run does, in order: checks, data, training, test.

Exit status: 0 success; 1 a failure explained in plain words; 2 a bad command line; 130 interrupted by Ctrl-C.
"""

import argparse
import shlex
import sys
from pathlib import Path

from coursekit.blas import DEFAULT_THREADS, blas_threads
from coursekit.blas import HELP as BLAS_THREADS_HELP
from coursekit.errors import KitError, run_command
from coursekit.i18n import LANGUAGES, choose_language, console_encoding, say, speaking
from coursekit.student_code import load_model_module

from . import data, download, run

REPO = Path(__file__).resolve().parents[2]


def main(tree_dir, argv=None):
    """Run main.py of the tree in `tree_dir` (chapter03/startup or chapter03/solution); returns the exit status."""
    tree_dir = Path(tree_dir)
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(tree_dir, argv)
    with speaking(args.lang):  # every message of the run in the language chosen once, here
        if args.lang_note:
            print(args.lang_note)
        return run_command(run_stages, tree_dir, args, argv)


def run_stages(tree_dir, args, argv):
    """The stages, with NumPy's matrix products limited to --blas_threads threads (see coursekit/blas.py)."""
    with blas_threads(args.blas_threads):
        return stages(tree_dir, args, argv)


def stages(tree_dir, args, argv):
    """Checks, data, training, test: each stage stops the run (exit 1) when it fails."""
    model_file = tree_dir / "model.py"
    model_module = load_model_module(model_file)
    if not args.download_only and not check_layers(model_module, model_file, args):
        return 1
    if args.checks_only or args.only or args.explain:
        return 0
    mnist = load_data(args)
    if mnist is None:
        return 0
    command = " ".join([f"python chapter03/{tree_dir.name}/main.py", *map(shlex.quote, argv)])
    run.train_and_test(model_module, model_file, mnist, run.Config.from_args(args), args.model_dir, command,
                       resume=args.resume, checks_passed=getattr(args, "checks_passed", True))
    return 0


# ---------------------------------------------------------------- command line

def parse_args(tree_dir, argv=None):
    with speaking(choose_language(requested_language(argv), console_encoding())[0]):  # --help in it too
        description = say("Check the layers in model.py, then train a multilayer perceptron on MNIST and test it.",
                          "检查 model.py 里的各层，然后在 MNIST 上训练一个多层感知机并测试。")
        epilog = say("Hyphenated spellings (--batch-size) work too. Details: chapter03/README.md.",
                     "带连字符的写法（--batch-size）也可以。详见 chapter03/README.md。")
    parser = argparse.ArgumentParser(
        prog=f"python chapter03/{tree_dir.name}/main.py",
        description=description,
        epilog=epilog,
        allow_abbrev=False,  # strict: a mistyped flag such as --epoch is an error, not a guess
    )

    def flag(name, **kwargs):
        parser.add_argument(f"--{name}", *([f"--{name.replace('_', '-')}"] if "_" in name else []), **kwargs)

    flag("hidden_dims", type=positive_int, nargs="+", default=[256, 128], metavar="N",
         help="hidden layer sizes (default: 256 128)")
    flag("lr", type=positive_float, default=0.01, metavar="F", help="learning rate (default: 0.01)")
    flag("batch_size", type=positive_int, default=64, metavar="N", help="mini-batch size (default: 64)")
    flag("epochs", type=positive_int, default=20, metavar="N", help="epochs (default: 20)")
    flag("momentum", type=momentum_value, default=0.95, metavar="F",
         help="SGD momentum in [0, 1); 0 is plain SGD as the handout derives it (default: 0.95)")
    flag("seed", type=non_negative_int, default=0, metavar="N", help="random seed: same seed, same run (default: 0)")
    flag("data_dir", type=folder_path, default=REPO / "data", metavar="P",
         help="where MNIST is looked for and downloaded to (default: <repo>/data)")
    flag("model_dir", type=folder_path, default=REPO / "model" / tree_dir.name, metavar="P",
         help=f"where checkpoints and plots go (default: <repo>/model/{tree_dir.name})")
    flag("mirror", action="append", default=[], metavar="URL",
         help="a base URL serving the four MNIST .gz files, tried before the built-in mirrors; repeatable; "
              "http(s):// or file://. The variable MNIST_MIRROR (URLs separated by spaces) does the same")
    flag("checks_only", action="store_true", help="run the correctness checks and exit")
    flag("skip_checks", action="store_true", help="train even though checks fail")
    flag("download_only", action="store_true", help="fetch and verify MNIST, then exit")
    flag("resume", action="store_true", help="continue from <model_dir>/model.npz")
    flag("blas_threads", type=non_negative_int, default=DEFAULT_THREADS, metavar="N", help=BLAS_THREADS_HELP)
    flag("lang", choices=LANGUAGES, default=None,
         help="the language of the report and messages: zh (Chinese) or en (default: Chinese under a Chinese "
              "locale, else English)")
    flag("only", metavar="CLASS|TASK",
         help="run only the checks of one class (e.g. Softmax) or task number (e.g. 3), then exit")
    flag("explain", metavar="CHECK",
         help='run one check (e.g. "Softmax.backward dx") and show its inputs, expected values, what came back '
              "and the wrong entries, as Python you can paste; then exit")
    args = parser.parse_args(argv)
    args.lang, args.lang_note = choose_language(args.lang, console_encoding())
    with speaking(args.lang):
        check_selection(parser, args)
    try:
        download.check_mirror_urls(args.mirror, "--mirror")  # MNIST_MIRROR is checked when the data stage starts
    except KitError as error:
        parser.error(str(error))  # a bad URL is a bad command line: exit 2
    return args


def requested_language(argv):
    """The value of --lang in argv when it is a language (argparse checks it later), else None."""
    argv = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            value = arg.partition("=")[2]
        elif arg == "--lang" and i + 1 < len(argv):
            value = argv[i + 1]
        else:
            continue
        return value if value in LANGUAGES else None
    return None


def check_selection(parser, args):
    """--only and --explain must name checks that exist: else exit 2, listing what does."""
    from coursekit.explain import find_check
    from coursekit.report import selected

    from .checks import CHECKS
    from .tasks import TASKS

    if args.only and args.explain:
        parser.error(say("use --only or --explain, not both", "--only 和 --explain 只能用一个"))
    if args.only and not selected(CHECKS, args.only):
        classes = ", ".join(task.cls for task in TASKS)
        numbers = ", ".join(str(task.number) for task in TASKS if task.number is not None)
        parser.error(say(f"--only {args.only}: no class or task of that name; one of {classes}, or a task number "
                         f"({numbers})",
                         f"--only {args.only}：没有这个类或任务；可以是 {classes} 之一，或者任务编号（{numbers}）"))
    if args.explain:
        args.explain_check, candidates = find_check(CHECKS, args.explain)
        if args.explain_check is None:
            names = "\n  ".join(check.name for check in (candidates or CHECKS))
            parser.error(say(f"--explain {args.explain!r} matches {'several checks' if candidates else 'no check'}; "
                             f"give one of these names (in quotes):\n  {names}",
                             f"--explain {args.explain!r} {'对应了好几项检查' if candidates else '没有对应的检查'}；"
                             f"请给出下面的一个名字（加引号）：\n  {names}"))


def folder_path(text):
    """A folder given on the command line; an empty one ('' from an unset shell variable) is an error, not the
    current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty path (write . for the current folder)")
    return Path(text)


def positive_int(text):
    return _number(text, int, lambda n: n >= 1, "a whole number >= 1")


def non_negative_int(text):
    return _number(text, int, lambda n: n >= 0, "a whole number >= 0")


def positive_float(text):
    return _number(text, float, lambda x: 0 < x < float("inf"), "a number > 0")


def momentum_value(text):
    return _number(text, float, lambda x: 0 <= x < 1, "a number in [0, 1)")


def _number(text, kind, is_valid, expected):
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not is_valid(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


# ---------------------------------------------------------------- the stages

def check_layers(model_module, model_file, args):
    """Print the check report (of the checks --only selects; or --explain's one check); True when training may go
    on, or when the checks asked for pass."""
    from coursekit.explain import explain_check
    from coursekit.report import format_report, run_checks

    from .checks import CHECKS
    from .tasks import TASKS

    main_py = f"python chapter03/{Path(model_file).parent.name}/main.py"
    if args.explain:
        text, passed = explain_check(model_module, model_file, CHECKS, TASKS, args.explain_check)
        print(text)
        return passed
    results = run_checks(model_module, model_file, CHECKS, TASKS, only=args.only)
    print(format_report(results, TASKS, explain_command=main_py + ' --explain "{name}"'))
    args.checks_passed = all(result.status == "pass" for result in results)  # the training run wants to know
    if args.checks_passed:
        return True
    if args.checks_only or args.only:
        return False
    if args.skip_checks:
        statuses = {result.status for result in results if result.status != "pass"}
        print("\n" + "!" * 70 + "".join(f"\n!!  {line}" for line in skip_checks_banner(statuses)) + "\n" + "!" * 70
              + "\n")
        return True
    print("\n" + say(f"Fix the checks above in {model_file} first (or train anyway with --skip_checks).",
                     f"先修好 {model_file} 里上面这些检查（或者用 --skip_checks 强行训练）。"), file=sys.stderr)
    return False


def skip_checks_banner(statuses):
    """The two lines of the --skip_checks banner, for the statuses of the checks that did not pass."""
    if statuses == {"TODO"}:
        return [say("--skip_checks: training although the checks above are TODO (code not written yet).",
                    "--skip_checks：上面的检查还是 TODO（代码还没写），仍然开始训练。"),
                say("Training stops with an error at the first method not written yet.",
                    "训练会在第一个还没写的方法处报错停下。")]
    if "TODO" in statuses:
        first = say("--skip_checks: training although the checks above FAIL or are TODO.",
                    "--skip_checks：上面的检查有的没有通过，有的还是 TODO，仍然开始训练。")
    else:
        first = say("--skip_checks: training although the checks above FAIL.",
                    "--skip_checks：上面的检查没有通过，仍然开始训练。")
    return [first, say("Expect errors or a network that does not learn.", "很可能会报错，或者网络学不会。")]


def load_data(args):
    """Download and verify MNIST if needed, then load it; None after --download_only."""
    data.ensure_mnist(args.data_dir, download.mirror_list(args.mirror))
    if args.download_only:
        print(say(f"MNIST is ready in {args.data_dir.resolve()}", f"MNIST 已经就绪，在 {args.data_dir.resolve()}"))
        return None
    return data.load_mnist(args.data_dir)

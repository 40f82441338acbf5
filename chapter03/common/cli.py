"""The command line of main.py. A run does, in order: checks, data, training, test.

Exit status: 0 success; 1 a failure explained in plain words; 2 a bad command line; 130 interrupted by Ctrl-C.
"""

import argparse
import shlex
import sys
from pathlib import Path

from coursekit.errors import KitError, run_command
from coursekit.student_code import load_model_module

from . import data, run

REPO = Path(__file__).resolve().parents[2]


def main(tree_dir, argv=None):
    """Run main.py of the tree in `tree_dir` (chapter03/startup or chapter03/solution); returns the exit status."""
    tree_dir = Path(tree_dir)
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(tree_dir, argv)
    return run_command(run_stages, tree_dir, args, argv)


def run_stages(tree_dir, args, argv):
    """Checks, data, training, test: each stage stops the run (exit 1) when it fails."""
    model_file = tree_dir / "model.py"
    model_module = load_model_module(model_file)
    if not args.download_only and not check_layers(model_module, model_file, args):
        return 1
    if args.checks_only:
        return 0
    mnist = load_data(args)
    if mnist is None:
        return 0
    command = " ".join([f"python chapter03/{tree_dir.name}/main.py", *map(shlex.quote, argv)])
    run.train_and_test(model_module, model_file, mnist, run.Config.from_args(args), args.model_dir, command,
                       resume=args.resume)
    return 0


# ---------------------------------------------------------------- command line

def parse_args(tree_dir, argv=None):
    parser = argparse.ArgumentParser(
        prog=f"python chapter03/{tree_dir.name}/main.py",
        description="Check the layers in model.py, then train a multilayer perceptron on MNIST and test it.",
        epilog="Hyphenated spellings (--batch-size) work too. Details: chapter03/README.md.",
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
    flag("data_dir", type=Path, default=REPO / "data", metavar="P",
         help="where MNIST is looked for and downloaded to (default: <repo>/data)")
    flag("model_dir", type=Path, default=REPO / "model" / tree_dir.name, metavar="P",
         help=f"where checkpoints and plots go (default: <repo>/model/{tree_dir.name})")
    flag("mirror", action="append", default=[], metavar="URL",
         help="a base URL serving the four MNIST .gz files, tried before the built-in mirrors; repeatable; "
              "http(s):// or file://. The variable MNIST_MIRROR (URLs separated by spaces) does the same")
    flag("checks_only", action="store_true", help="run the correctness checks and exit")
    flag("skip_checks", action="store_true", help="train even though checks fail")
    flag("download_only", action="store_true", help="fetch and verify MNIST, then exit")
    flag("resume", action="store_true", help="continue from <model_dir>/model.npz")
    args = parser.parse_args(argv)
    try:
        args.mirrors = data.mirror_list(args.mirror)
    except KitError as error:
        parser.error(str(error))  # a bad URL is a bad command line: exit 2
    return args


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
    """Print the check report; True when training may go on."""
    from coursekit.report import format_report, run_checks

    from .checks import CHECKS
    from .tasks import TASKS

    results = run_checks(model_module, model_file, CHECKS, TASKS)
    print(format_report(results, TASKS))
    if all(result.status == "pass" for result in results):
        return True
    if args.checks_only:
        return False
    if args.skip_checks:
        print("\n" + "!" * 70 + "\n!!  --skip_checks: training although the checks above FAIL.\n"
              "!!  Expect errors or a network that does not learn.\n" + "!" * 70 + "\n")
        return True
    print(f"\nFix the checks above in {model_file} first (or train anyway with --skip_checks).", file=sys.stderr)
    return False


def load_data(args):
    """Download and verify MNIST if needed, then load it; None after --download_only."""
    data.ensure_mnist(args.data_dir, args.mirrors)
    if args.download_only:
        print(f"MNIST is ready in {args.data_dir.resolve()}")
        return None
    return data.load_mnist(args.data_dir)

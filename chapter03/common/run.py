"""The steps of main.py that take more than a line: the checks, the data, the lines a run prints, the progress bar,
and what a run says when it stops early (Ctrl-C, a network that does not learn, divergence, a bug in model.py)."""

import sys
from collections import namedtuple
from contextlib import contextmanager

import numpy as np

from coursekit import report
from coursekit.errors import KitError
from coursekit.explain import explain_check
from coursekit.files import FileHeld
from coursekit.i18n import say
from coursekit.student_code import explain_exception, raised_in

from . import diagnose, train
from .checks import CHECKS
from .tasks import TASKS

INPUT_DIM, CLASSES = 784, 10


class Config(namedtuple("Config", "hidden_dims lr momentum batch_size epochs seed")):
    """What decides a run's result: saved whole in model.npz, so a resumed run is the same run."""

    @classmethod
    def from_args(cls, args):
        return cls(tuple(args.hidden_dims), args.lr, args.momentum, args.batch_size, args.epochs, args.seed)


def check_layers(model_module, model_file, args):
    """Print the check report (of the checks --only selects, or --explain's one check); True when they all pass."""
    if args.explain:
        text, passed = explain_check(model_module, model_file, CHECKS, TASKS, args.explain_check)
        print(text)
        return passed
    results = report.run_checks(model_module, model_file, CHECKS, TASKS, only=args.only)
    main_py = f"python chapter03/{model_file.parent.name}/main.py"
    print(report.format_report(results, TASKS, explain_command=main_py + ' --explain "{name}"'))
    statuses = {result.status for result in results} - {"pass"}
    if statuses and args.skip_checks and not (args.checks_only or args.only):
        print("\n" + "!" * 70 + "".join(f"\n!!  {line}" for line in skip_checks_banner(statuses)) + "\n" + "!" * 70)
    elif statuses and not (args.checks_only or args.only):
        print(say(f"\nFix the checks above in {model_file} first (or train anyway with --skip_checks).",
                  f"\n先修好 {model_file} 里上面这些检查（或者用 --skip_checks 强行训练）。"), file=sys.stderr)
    return not statuses


def skip_checks_banner(statuses):
    """The two lines of the --skip_checks banner, for the statuses of the checks that did not pass."""
    if statuses == {"TODO"}:
        return [say("--skip_checks: training although the checks above are TODO (code not written yet).",
                    "--skip_checks：上面的检查还是 TODO（代码还没写），仍然开始训练。"),
                say("Training stops with an error at the first method not written yet.",
                    "训练会在第一个还没写的方法处报错停下。")]
    both = "TODO" in statuses
    return [say(f"--skip_checks: training although the checks above FAIL{' or are TODO' * both}.",
                f"--skip_checks：上面的检查{'有的没有通过，有的还是 TODO' if both else '没有通过'}，仍然开始训练。"),
            say("Expect errors or a network that does not learn.", "很可能会报错，或者网络学不会。")]


def load_data(args):
    """Download and verify MNIST if needed (once), then load it: data.Mnist, or None after --download_only."""
    from . import data, download  # here: a run that only checks does not import the download stack

    data.ensure_mnist(args.data_dir, download.mirror_list(args.mirror))
    if args.download_only:
        print(say(f"MNIST is ready in {args.data_dir.resolve()}", f"MNIST 已经就绪，在 {args.data_dir.resolve()}"))
        return None
    return data.load_mnist(args.data_dir)


def training_line(config, images):
    layers, epochs = "-".join(map(str, (INPUT_DIM, *config.hidden_dims, CLASSES))), config.epochs
    return say(f"\nTraining {layers} on {images:,} images: lr {config.lr}, momentum {config.momentum}, batch "
               f"{config.batch_size}, {epochs} epoch{'s' * (epochs != 1)}.", f"\n训练 {layers}，共 {images:,} 张图片："
               f"学习率 {config.lr}，动量 {config.momentum}，批大小 {config.batch_size}，{epochs} 轮。")


def epoch_line(epoch, epochs, train_loss, train_acc, val_loss, val_acc, seconds):
    return say(f"Epoch {epoch:>2}/{epochs}  train loss {train_loss:.4f} acc {train_acc:6.2%}  "
               f"val loss {val_loss:.4f} acc {val_acc:6.2%}  {seconds:.1f} s",
               f"第 {epoch}/{epochs} 轮  训练损失 {train_loss:.4f} 准确率 {train_acc:6.2%}  "
               f"验证损失 {val_loss:.4f} 准确率 {val_acc:6.2%}  {seconds:.1f} 秒")


def test_accuracy_line(accuracy):
    return say(f"Test accuracy: {accuracy * 100:.2f}%", f"测试准确率：{accuracy * 100:.2f}%")


@contextmanager
def progress_bar(epoch, config, images):
    """A tqdm bar over an epoch on a terminal (ASCII unless UTF-8); yields progress(batches_done, loss, acc)."""
    if not sys.stderr.isatty():  # a log file or a test: the epoch line says it all (and no tqdm half-built by a signal)
        yield lambda batches_done, loss, acc: None
        return
    from tqdm import tqdm

    encoding = (getattr(sys.stderr, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    with tqdm(total=-(-images // config.batch_size), desc=say(f"Epoch {epoch}/{config.epochs}",
              f"第 {epoch}/{config.epochs} 轮"), unit=say("batch", "批"), leave=False, mininterval=0.2,
              ascii=encoding not in ("utf8", "utf8sig")) as bar:

        def progress(batches_done, loss, acc):
            bar.set_postfix_str(say(f"loss {loss:.4f} acc {acc:.2%}", f"损失 {loss:.4f} 准确率 {acc:.2%}"), False)
            bar.update(batches_done - bar.n)

        yield progress


def stop_if_diverged(val_loss):
    if not np.isfinite(val_loss):  # the last batch's update can break the weights after its loss was finite
        raise train.Diverged(say(f"the validation loss became {val_loss}", f"验证集损失变成了 {val_loss}"))


@contextmanager
def stops_explained(folder, model_module, model_file, mnist, config, checks_passed):
    """What ends training early, said in plain words, with what was kept and what to do next."""
    def kept():
        return say(f"The last epoch ({folder.saved_epoch}) is kept in {folder.model_path}.",
                   f"最后一轮（第 {folder.saved_epoch} 轮）保存在 {folder.model_path}。")

    try:
        yield
    except KeyboardInterrupt:
        epoch, command = folder.saved_epoch, folder.resume_command
        stopped = say(f"Stopped: epoch {epoch} is saved in {folder.model_path}.\nContinue with:  {command}",
                      f"已停止：第 {epoch} 轮已保存在 {folder.model_path}。\n接着训练：  {command}")
        print("\n" + (stopped if epoch else say("Stopped before the first epoch finished: nothing was saved.",
                                                "第一轮还没结束就停下了：什么都没有保存。")), file=sys.stderr)
        raise
    except train.NotLearning as why:
        print(say("\nThe network is not learning. Looking for the cause (a few seconds)...",
                  "\n网络没有在学习。正在找原因（几秒钟）……"), flush=True)
        report = diagnose.diagnose(model_module, model_file, mnist, config, checks_passed)
        raise KitError(say(f"Training stopped: {why}. ", f"训练已停止：{why}。") + kept() + f"\n\n{report}") from None
    except train.Diverged as why:
        smaller = f"{min(config.lr / 10, 0.01):g}"  # a tenth, at most the default (a tenth of 1e300 diverges too)
        raise KitError(say(f"Training diverged: {why}. Try a smaller learning rate, e.g. --lr {smaller}. ",
                           f"训练发散了：{why}。试试更小的学习率，例如 --lr {smaller}。")
                       + (kept() if folder.saved_epoch else "")) from None
    except FileHeld as held:
        again = folder.resume_command if folder.saved_epoch else say("the same command again", "同样的命令")
        raise KitError(say(f"{held}\nClose that program (or pause OneDrive), then run:\n  {again}",
                           f"{held}\n关掉那个程序（或暂停 OneDrive），然后运行：\n  {again}")) from None
    except (Exception, SystemExit) as error:  # SystemExit: an exit() left in model.py
        if isinstance(error, MemoryError) or not raised_in(error, model_file):
            raise  # a bug in the kit itself (keep the traceback), or too little memory (run_command explains it)
        why = explain_exception(error, model_file)
        checks = f"python chapter03/{model_file.parent.name}/main.py --checks_only"
        raise KitError(say(f"{model_file.name} failed during training: {why}\nRun  {checks}  to find the layer at "
                           f"fault.", f"{model_file.name} 在训练中出错：{why}\n运行  {checks}  找出是哪一层的问题。"
                           )) from None

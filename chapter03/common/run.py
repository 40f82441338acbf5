"""One training run of main.py: build the network, train epoch after epoch saving each one, then test it.

    config = Config.from_args(args)          # the flags that shape a run, built once
    train_and_test(model_module, model_file, data, config, model_dir, command)
"""

import math
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np

from coursekit.errors import KitError, interrupts_deferred
from coursekit.i18n import say
from coursekit.student_code import explain_exception, raised_in

from . import checkpoint, diagnose, plots, train

INPUT_DIM, CLASSES = 784, 10


@dataclass(frozen=True)
class Config:
    """What decides a run's result: saved whole in model.npz, so a resumed run is the same run."""

    hidden_dims: tuple
    lr: float
    momentum: float
    batch_size: int
    epochs: int
    seed: int

    @classmethod
    def from_args(cls, args):
        return cls(tuple(args.hidden_dims), args.lr, args.momentum, args.batch_size, args.epochs, args.seed)

    def as_dict(self):
        return asdict(self)

    def layers(self):
        return "-".join(map(str, (INPUT_DIM, *self.hidden_dims, CLASSES)))

    def settings(self):
        return f"lr {self.lr}, momentum {self.momentum}, batch {self.batch_size}, {plural(self.epochs, 'epoch')}"


def plural(count, noun):
    return f"{count} {noun}" + ("" if count == 1 else "s")


def smaller_lr(lr):
    """A learning rate to try after lr diverged, as typed on a command line: a tenth of it, at most main.py's
    default 0.01 (a tenth of 1e300 would diverge just the same)."""
    return f"{min(lr / 10, 0.01):g}"


def nothing_left_to_train(model_path, config):
    """For --resume: True, after saying so, when model_path already holds config.epochs epochs or more.

    Names the saved run's settings that differ from the flags, since a finished run is not trained again with them.
    """
    if not model_path.is_file():
        return False  # checkpoint.resume says there is nothing to continue from
    saved = checkpoint.load(model_path)
    done = int(saved["epoch"])
    if done < config.epochs:
        return False
    print(say(f"Nothing to do: {model_path} already holds {plural(done, 'epoch')} of training, and --epochs asks "
              f"for {config.epochs}.",
              f"没有要做的：{model_path} 已经训练了 {done} 轮，而 --epochs 要求的是 {config.epochs} 轮。"))
    differences = saved_settings_that_differ(saved, config)
    if differences:
        saved_flags = ", ".join(f"{flag} {saved_value}" for flag, saved_value, _ in differences)
        your_flags = ", ".join(f"{flag} {yours}" for flag, _, yours in differences)
        print(say(f"That run was trained with {saved_flags}; your flags say {your_flags}.",
                  f"那次训练用的是 {saved_flags}；你这次的参数是 {your_flags}。"))
    print(say(f"To train it further, raise --epochs (e.g. --epochs {done + 10} --resume). To train a new network "
              f"with your flags, give it another --model_dir.",
              f"要继续训练，就调大 --epochs（例如 --epochs {done + 10} --resume）。要用你的参数训练一个新网络，"
              f"换一个 --model_dir。"))
    return True


def saved_settings_that_differ(saved, config):
    """[(flag, saved value, value of the flags)] for each setting of the saved run that the flags change."""
    differences = []
    for name, value in config.as_dict().items():
        if name not in saved:
            continue  # "epochs" is missing from the files of the kit's first release
        saved_value = saved[name].tolist()
        if name == "hidden_dims":
            saved_value, value = " ".join(map(str, saved_value)), " ".join(map(str, value))
        same = math.isclose(saved_value, value) if isinstance(value, float) else saved_value == value
        if not same:
            differences.append((f"--{name}", f"{saved_value:g}" if isinstance(value, float) else saved_value,
                                f"{value:g}" if isinstance(value, float) else value))
    return differences


def train_and_test(model_module, model_file, data, config, model_dir, command, resume=False, checks_passed=True):
    """Train for config.epochs epochs (or what resume leaves), saving after every epoch, then test.

    command: the command line as the user typed it, to tell them how to continue after Ctrl-C. checks_passed: False
    when the run goes on with --skip_checks (said again if the network does not learn). model_dir is held for the
    whole run (checkpoint.ModelFolder): a second run there is refused, and an earlier run's model is kept aside.
    """
    if resume and nothing_left_to_train(model_dir / checkpoint.MODEL_NAME, config):
        return
    with checkpoint.ModelFolder(model_dir, command, resume) as folder:
        train_in(folder, model_module, model_file, data, config, command, resume, checks_passed)


def train_in(folder, model_module, model_file, data, config, command, resume, checks_passed):
    """train_and_test, once its ModelFolder is held: folder.save() saves, folder.saved_epoch is what is saved."""
    model_dir, model_path = folder.path, folder.model_path
    model = model_module.MLP(INPUT_DIM, list(config.hidden_dims), CLASSES, rng=np.random.default_rng(config.seed))
    loss_fn = model_module.CrossEntropyLoss()
    optimizer = train.SGD(model.parameters(), config.lr, config.momentum)
    history = {key: [] for key in checkpoint.HISTORY_KEYS}
    first_epoch = 0
    if resume:
        first_epoch, history = folder.resume_into(model, optimizer, config)
    loss_plot = plots.LossPlot()

    def save(epoch):
        folder.save(model, optimizer, config, epoch, history)  # from now on folder.saved_epoch == epoch
        try:
            loss_plot.update(history, model_dir / "loss.png")
        except KitError as error:  # e.g. an image viewer on Windows holds the file: not a reason to stop training
            print(say(f"Warning: {error}", f"警告：{error}"), file=sys.stderr)

    print(say(f"\nTraining {config.layers()} on {len(data.train_images):,} images: {config.settings()}.",
              f"\n训练 {config.layers()}，共 {len(data.train_images):,} 张图片：{config.settings()}。"))
    try:
        # The loss before training: after the first epoch the validation loss must be below it (train.check_learning).
        start_loss = None if first_epoch else train.evaluate(model, loss_fn, data.val_images, data.val_labels)[0]
        for epoch in range(first_epoch + 1, config.epochs + 1):
            started = time.perf_counter()
            rng = np.random.default_rng([config.seed, epoch])  # depends only on (seed, epoch): resuming repeats it
            with progress_bar(epoch, config.epochs, len(data.train_images), config.batch_size) as progress:
                # Without the input gradient only once every check passed: a student still debugging Linear.backward
                # would be puzzled by the empty W it is then called with for the first layer (train.py says why).
                train_loss, train_acc = train.train_one_epoch(
                    model, loss_fn, optimizer, data.train_images, data.train_labels, config.batch_size, rng, progress,
                    skip_input_gradient=checks_passed)
            val_loss, val_acc, _ = train.evaluate(model, loss_fn, data.val_images, data.val_labels)
            if not np.isfinite(val_loss):
                raise train.Diverged(say(f"the validation loss became {val_loss}", f"验证集损失变成了 {val_loss}"))
            for key, value in zip(checkpoint.HISTORY_KEYS, (train_loss, train_acc, val_loss, val_acc)):
                history[key].append(value)
            save(epoch)
            print(f"Epoch {epoch:>2}/{config.epochs}  train loss {train_loss:.4f} acc {train_acc:6.2%}  "
                  f"val loss {val_loss:.4f} acc {val_acc:6.2%}  {time.perf_counter() - started:.1f} s", flush=True)
            train.check_learning(epoch, val_loss, val_acc, start_loss, CLASSES)
    except KeyboardInterrupt:
        if folder.saved_epoch:
            again = command if resume else f"{command} --resume"
            print(say(f"\nStopped: epoch {folder.saved_epoch} is saved in {model_path}.\nContinue with:  {again}",
                      f"\n已停止：第 {folder.saved_epoch} 轮已保存在 {model_path}。\n接着训练：  {again}"),
                  file=sys.stderr)
        else:
            print(f"\n{folder.nothing_saved()}", file=sys.stderr)
        raise
    except train.NotLearning as why:
        print(say("\nThe network is not learning. Looking for the cause (a few seconds)...",
                  "\n网络没有在学习。正在找原因（几秒钟）……"), flush=True)
        report = diagnose.diagnose(model_module, model_file, data, config, checks_passed)
        raise KitError(say(f"Training stopped: {why}. The last epoch ({folder.saved_epoch}) is kept in {model_path}.",
                           f"训练已停止：{why}。最后一轮（第 {folder.saved_epoch} 轮）保存在 {model_path}。")
                       + f"\n\n{report}") from None
    except train.Diverged as why:
        kept = (say(f" The last good epoch ({folder.saved_epoch}) is kept in {model_path}.",
                    f"最后一轮正常的结果（第 {folder.saved_epoch} 轮）保存在 {model_path}。")
                if folder.saved_epoch else "")
        advice = say(f"Try a smaller learning rate, e.g. --lr {smaller_lr(config.lr)}.",
                     f"试试更小的学习率，例如 --lr {smaller_lr(config.lr)}。")
        raise KitError(say(f"Training diverged: {why}. ", f"训练发散了：{why}。") + advice + kept) from None
    except (Exception, SystemExit) as error:  # SystemExit: an exit() left in model.py
        if isinstance(error, MemoryError) or not raised_in(error, model_file):
            raise  # a bug in the kit itself (keep the traceback), or too little memory (run_command explains it)
        checks_command = f"python chapter03/{model_file.parent.name}/main.py --checks_only"
        raise KitError(say(f"{model_file.name} failed during training: {explain_exception(error, model_file)}\n"
                           f"Run  {checks_command}  to find the layer at fault.",
                           f"{model_file.name} 在训练中出错：{explain_exception(error, model_file)}\n"
                           f"运行  {checks_command}  找出是哪一层的问题。")) from None

    test_loss, test_acc, probs = train.evaluate(model, loss_fn, data.test_images, data.test_labels)
    pictures = plots.save_test_figures(data.test_images, data.test_labels, probs, model_dir)  # warns on a full disk
    saved = ", ".join([checkpoint.MODEL_NAME, "loss.png", *pictures])
    print(say(f"Saved in {model_dir}: {saved}", f"已保存到 {model_dir}：{saved}"))
    print(f"Test accuracy: {test_acc * 100:.2f}%")


@contextmanager
def progress_bar(epoch, epochs, count, batch_size):
    """A tqdm bar over the batches of one epoch, on a terminal only; yields progress(batches_done, loss, acc)."""
    from tqdm import tqdm

    with interrupts_deferred():  # a stop inside tqdm's __init__ would leave half a bar, whose __del__ then fails
        bar = tqdm(total=-(-count // batch_size), desc=f"Epoch {epoch}/{epochs}", unit="batch", leave=False,
                   disable=not sys.stderr.isatty(), mininterval=0.2)
    with bar:

        def progress(batches_done, loss, acc):
            bar.set_postfix_str(f"loss {loss:.4f} acc {acc:.2%}", refresh=False)
            bar.update(batches_done - bar.n)

        yield progress

"""model.npz: everything needed to rebuild the network, use it and resume training; and the folder it lives in.
Plain arrays: format_version 1; input_dim, hidden_dims (H,), output_dim; input_mean, input_std (the network reads
(pixels - input_mean) / input_std); W0, b0, W1, b1, ...: W{i} (d_i, d_i+1), b{i} (1, d_i+1) for d = [input_dim,
*hidden_dims, output_dim]; velocity0, ... (the optimizer's, same order); epoch (finished); lr, momentum, batch_size,
epochs, seed (the run's Config); train_loss, train_acc, val_loss, val_acc (epoch,) each."""

import io
import sys
import zlib
from pathlib import Path

import numpy as np

from coursekit.errors import KitError, interrupts_deferred
from coursekit.files import remove, temporary_name, write_atomically
from coursekit.i18n import say

from . import plots
from .train import MNIST_MEAN, MNIST_STD

FORMAT_VERSION = 1
MODEL_NAME = "model.npz"
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")
NUMBERS = ("format_version", "input_dim", "output_dim", "input_mean", "input_std", "epoch", "lr", "momentum",
           "batch_size", "epochs", "seed")


def save(path, model, optimizer, config, epoch, history):
    """Write model.npz atomically: the MLP, its SGD's velocities, the Config, epochs done, {HISTORY_KEYS: lists}."""
    params = model.parameters()
    arrays = {"format_version": FORMAT_VERSION, "input_dim": params[0].data.shape[0],
              "output_dim": params[-1].data.shape[-1], "input_mean": MNIST_MEAN, "input_std": MNIST_STD,
              "epoch": epoch, **config._asdict(), **{key: np.asarray(history[key], np.float64) for key in HISTORY_KEYS}}
    arrays["hidden_dims"] = np.asarray(config.hidden_dims, dtype=np.int64)
    names = [f"{w}{i}" for i in range(len(params) // 2) for w in "Wb"]  # W0, b0, W1, b1, ...
    arrays.update({name: param.data.astype(np.float32) for name, param in zip(names, params)})
    arrays.update({f"velocity{i}": np.asarray(v, dtype=np.float32) for i, v in enumerate(optimizer.velocities)})
    # The archive is built in memory: a full disk then fails one plain write. NumPy's ZipFile on the file itself
    # would, on Python 3.9, print an "Exception ignored ... seek of closed file" traceback after the message.
    archive = io.BytesIO()
    np.savez(archive, **arrays)
    write_atomically(path, lambda file: file.write(archive.getbuffer()))


def load(path):
    """model.npz as a dict of arrays, checked: KitError when it cannot be used (damaged, or not written by this kit)."""
    import zipfile  # here: a run that only checks the layers never loads a model (and starts 3 ms sooner)

    try:
        with np.load(path, allow_pickle=False) as npz:
            saved = {key: npz[key] for key in npz.files}
        problem = format_problem(saved)
    except (OSError, ValueError, TypeError, EOFError, RuntimeError, zipfile.BadZipFile, zlib.error) as exc:
        problem = say(f"it is not a readable model file ({type(exc).__name__})",
                      f"它不是一个能读的模型文件（{type(exc).__name__}）")
    if problem:
        raise KitError(say(f"{path} cannot be used: {problem}. Train the network again to write a new one.",
                               f"{path} 不能用：{problem}。重新训练一次网络，写一个新的。"))
    return saved


def format_problem(saved):
    """What makes `saved` (a dict of arrays) not a model.npz of FORMAT_VERSION, in a few words; None when it is."""
    version, sizes = saved.get("format_version"), saved.get("hidden_dims")
    if version is None or version.shape != () or version.dtype.kind not in "iu" or version != FORMAT_VERSION:
        return say(f"it is not a model.npz of format version {FORMAT_VERSION}",
                   f"它不是格式版本 {FORMAT_VERSION} 的 model.npz")
    if sizes is None or sizes.ndim != 1 or sizes.dtype.kind not in "iu":
        return say("hidden_dims is not a list of whole numbers", "hidden_dims 不是一列整数")
    if problem := shape_problem(saved, dict.fromkeys(NUMBERS, ())):
        return problem
    dims, layers = [int(saved["input_dim"]), *map(int, sizes), int(saved["output_dim"])], {}
    for i in range(len(dims) - 1):
        layers[f"W{i}"], layers[f"b{i}"] = (dims[i], dims[i + 1]), (1, dims[i + 1])
    velocities = {f"velocity{j}": shape for j, shape in enumerate(layers.values())}
    return shape_problem(saved, {**layers, **velocities, **dict.fromkeys(HISTORY_KEYS, (int(saved["epoch"]),))})


def shape_problem(saved, shapes):
    """The first key of {key: shape} missing from saved or of another shape, or the first holding NaN; else None."""
    for key, shape in shapes.items():
        if key not in saved:
            return say(f"{key} is missing", f"缺少 {key}")
        if saved[key].shape != shape:
            found = saved[key].shape
            return say(f"{key} has shape {found}, not {shape}", f"{key} 的形状是 {found}，不是 {shape}")
    not_finite = [key for key in shapes if saved[key].dtype.kind == "f" and not np.isfinite(saved[key]).all()]
    return say(f"{not_finite[0]} holds NaN or infinite values", f"{not_finite[0]} 里有 NaN 或无穷大的值") \
        if not_finite else None


def build_model(saved, model_module):  # an MLP of a tree's model.py with the saved architecture and weights
    model = model_module.MLP(int(saved["input_dim"]), [int(n) for n in saved["hidden_dims"]], int(saved["output_dim"]))
    load_weights(model, saved)
    return model


def load_weights(model, saved):  # W0, b0, W1, b1, ... into model's Parameters, in that order
    names = [f"{w}{i}" for i in range(len(saved["hidden_dims"]) + 1) for w in "Wb"]
    for param, name in zip(model.parameters(), names):
        param.data = saved[name].astype(np.float32)


def prepare_inputs(pixels, saved):  # pixels (N, 784) in [0, 1] -> the float32 input the model was trained with
    return ((pixels - saved["input_mean"]) / saved["input_std"]).astype(np.float32)


def shown(value):  # a setting as a flag takes it: 0.01, 64, 256 128
    return " ".join(map(str, value)) if isinstance(value, (tuple, list)) else f"{value:g}" if isinstance(value, float) \
        else str(value)


class ModelFolder:
    """The --model_dir of a run: model.npz (its saved_epoch, 0 for none yet) and loss.png, then the test's pictures."""

    def __init__(self, path, resume_command, resume=False):
        self.path, self.model_path, self.resume_command = Path(path), Path(path) / MODEL_NAME, resume_command
        self.saved_epoch, self.written, self.loss_plot = 0, {}, None
        try:  # a folder that cannot be written is found now, before epoch 1
            self.path.mkdir(parents=True, exist_ok=True)
            tmp = temporary_name(self.model_path)
            open(tmp, "xb").close()
            remove(tmp)
        except OSError as error:
            raise KitError(say(f"Cannot write in {self.path}: {error.strerror or error}. Choose a --model_dir you "
                               f"can write to.", f"无法写入 {self.path}：{error.strerror or error}。请选一个可以写入的 "
                               f"--model_dir。")) from None
        if not resume and self.model_path.is_file():
            print(say(f"Note: {self.model_path} holds an earlier run; this run starts from scratch and replaces it "
                      f"when its first epoch is saved. To continue that run instead, stop and add --resume.",
                      f"注意：{self.model_path} 里已经有之前训练的结果；这次从头训练，保存第一轮时会替换它。"
                      f"如果想接着它训练，请停下来并加上 --resume。"))

    def resume(self, model, optimizer, config):
        """(epoch, history) of model.npz, its weights loaded into model and optimizer unless it is finished."""
        path = self.model_path
        if not path.is_file():
            raise KitError(say(f"--resume: there is no {path} to continue from. Train once without --resume.",
                               f"--resume：没有可以接着训练的 {path}。先不加 --resume 训练一次。"))
        saved = load(path)
        done, history = int(saved["epoch"]), {key: [float(v) for v in saved[key]] for key in HISTORY_KEYS}
        pairs = {f"--{name}": (shown(saved[name].tolist()), shown(value)) for name, value in config._asdict().items()}
        differ = {flag: pair for flag, pair in pairs.items() if pair[0] != pair[1]}
        if done >= config.epochs:  # a finished run is not trained again, nor with other flags
            print(say(f"Nothing to do: {path} already holds {done} epoch{'s' * (done != 1)} of training, and "
                      f"--epochs asks for {config.epochs}.", f"没有要做的：{path} 已经训练了 {done} 轮，而 --epochs "
                      f"要求的是 {config.epochs} 轮。"))
            if differ:
                theirs, yours = (", ".join(f"{flag} {pair[k]}" for flag, pair in differ.items()) for k in (0, 1))
                print(say(f"That run was trained with {theirs}; your flags say {yours}.",
                          f"那次训练用的是 {theirs}；你这次的参数是 {yours}。"))
            print(say(f"To train it further, raise --epochs (e.g. --epochs {done + 10} --resume). To train a new "
                      f"network with your flags, give it another --model_dir.", f"要继续训练，就调大 --epochs（例如 "
                      f"--epochs {done + 10} --resume）。要用你的参数训练一个新网络，换一个 --model_dir。"))
            return done, history
        if "--hidden_dims" in differ:
            theirs, yours = differ["--hidden_dims"]
            raise KitError(say(f"--resume: {path} was trained with --hidden_dims {theirs}, not {yours}. Use the same "
                               f"sizes, or another --model_dir.", f"--resume：{path} 是用 --hidden_dims {theirs} "
                               f"训练的，不是 {yours}。用同样的大小，或者换一个 --model_dir。"))
        load_weights(model, saved)
        optimizer.velocities = [saved[f"velocity{i}"].astype(np.float32) for i in range(len(optimizer.parameters))]
        self.saved_epoch = done
        print(say(f"Resuming from {path}: {done} of {config.epochs} epochs done.",
                  f"从 {path} 接着训练：{config.epochs} 轮中已完成 {done} 轮。"))
        return done, history

    def save(self, model, optimizer, config, epoch, history):
        """model.npz; a stop signal during the save takes effect once it is done, so saved_epoch says what it holds."""
        with interrupts_deferred():
            save(self.model_path, model, optimizer, config, epoch, history)
            self.saved_epoch = epoch
            self.written[MODEL_NAME] = True

    def plot(self, history):
        """loss.png; a picture that cannot be written (a viewer holds it, a full disk) is a warning, not the end."""
        self.loss_plot = self.loss_plot or plots.LossPlot()
        self.write_picture("loss.png", lambda path: self.loss_plot.update(history, path))

    def write_picture(self, name, draw):
        try:
            draw(self.path / name)
            self.written[name] = True
        except KitError as error:
            self.written[name] = False
            print(say(f"Warning: {error}", f"警告：{error}"), file=sys.stderr)

    def save_test_pictures(self, images, labels, probs):
        """confusion.png and mistakes.png for the test set; then say what this run wrote."""
        self.write_picture("confusion.png", lambda path: plots.save_confusion_matrix(labels, probs.argmax(1), path))
        self.write_picture("mistakes.png", lambda path: plots.save_worst_mistakes(images, labels, probs, path))
        saved = say(", ", "、").join(name for name, done in self.written.items() if done)
        print(say(f"Saved in {self.path}: {saved}", f"已保存到 {self.path}：{saved}"))

"""model.npz: everything needed to rebuild the network, use it, and resume training; and the folder it lives in.

The schema (format_version 1). Every key is a plain array, so np.load(path, allow_pickle=False) works; "int" is any
integer dtype, "float" any floating dtype (the kit writes int64, float64, and float32 for the network's arrays):

    format_version              int, 1
    input_dim, output_dim       int >= 1, int >= 2  (784 and 10 for MNIST)
    hidden_dims                 int array (H,), H >= 1, each >= 1, e.g. [256, 128]
    input_mean, input_std       float, std > 0: the network reads (pixels - input_mean) / input_std, pixels in [0, 1]
    W0, b0, W1, b1, ...         float, the Linear layers in order: W{i} (d_i, d_i+1), b{i} (1, d_i+1), where
                                d = [input_dim, *hidden_dims, output_dim]
    velocity0, velocity1, ...   float, the optimizer's state: one per parameter, in the order W0, b0, W1, ...
    epoch                       int >= 1, the number of finished epochs
    lr, momentum                float > 0, float in [0, 1)
    batch_size, epochs, seed    int >= 1, int >= 1, int >= 0: the run's Config (run.py); `epochs` is the number the
                                run aimed at (missing in files of the kit's first release, which are read all the same)
    train_loss, train_acc, val_loss, val_acc   float (epoch,): the history, one value per finished epoch

Every number is finite. load() checks all of it on every load (--resume, the canvas, anything else): a file that
breaks a rule is refused with one line per problem, never half-used. Other keys are ignored.

A training run holds its --model_dir with ModelFolder: one run at a time per folder, and an earlier run's model is
never overwritten (see ModelFolder).
"""

import io
import math
import os
import shutil
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from coursekit.errors import KitError, interrupts_deferred
from coursekit.files import FolderInUse, FolderLock, remove_stale_temporaries, write_atomically
from coursekit.i18n import say

FORMAT_VERSION = 1
MODEL_NAME = "model.npz"
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")
INT, FLOAT = "whole number", "number"
# key: (kind, valid(value), what a valid value is)
SCALARS = {
    "input_dim": (INT, lambda n: n >= 1, ">= 1"),
    "output_dim": (INT, lambda n: n >= 2, ">= 2"),
    "input_mean": (FLOAT, math.isfinite, "finite"),
    "input_std": (FLOAT, lambda x: 0 < x < math.inf, "> 0"),
    "epoch": (INT, lambda n: n >= 1, ">= 1"),
    "lr": (FLOAT, lambda x: 0 < x < math.inf, "> 0"),
    "momentum": (FLOAT, lambda x: 0 <= x < 1, "in [0, 1)"),
    "batch_size": (INT, lambda n: n >= 1, ">= 1"),
    "epochs": (INT, lambda n: n >= 1, ">= 1"),
    "seed": (INT, lambda n: n >= 0, ">= 0"),
}
OPTIONAL = {"epochs"}  # the first release of the kit did not save it
SHOWN_PROBLEMS = 6  # a file that is wrong everywhere: the first few problems say enough


class BadModelFile(KitError):
    """A model.npz that cannot be used: path, and problems (one short sentence each)."""

    def __init__(self, path, problems):
        self.path, self.problems = Path(path), list(problems)
        super().__init__(f"{path} cannot be used: {self.listed()}\nTrain the network again to write a new one.")

    def listed(self):
        shown = self.problems[:SHOWN_PROBLEMS]
        more = len(self.problems) - len(shown)
        if len(self.problems) == 1:
            return f"{shown[0]}."
        return "".join(f"\n  - {problem}" for problem in shown) + (f"\n  - and {more} more" if more else "")


# ---------------------------------------------------------------------------------------------------- save and load


def save(path, model, optimizer, config, epoch, history):
    """Write model.npz atomically: to a temporary name first, then rename, so a crash never leaves half a file.

    model: the MLP; optimizer: its SGD (velocities); config: the run's Config; epoch: finished epochs;
    history: {key: list of one value per epoch} for HISTORY_KEYS. KitError, writing nothing, when what would be
    saved breaks the schema (a network changed in model.py, say): a file that cannot be loaded is never written.
    """
    from .train import MNIST_MEAN, MNIST_STD

    params = model.parameters()
    arrays = {
        "format_version": np.int64(FORMAT_VERSION),
        "input_dim": np.int64(params[0].data.shape[0]),
        "output_dim": np.int64(params[-1].data.shape[-1]),
        "input_mean": np.float64(MNIST_MEAN),
        "input_std": np.float64(MNIST_STD),
        "epoch": np.int64(epoch),
        **{key: np.asarray(value) for key, value in config.as_dict().items()},
    }
    arrays["hidden_dims"] = np.asarray(config.hidden_dims, dtype=np.int64)
    for i, (weight, bias) in enumerate(zip(params[0::2], params[1::2])):
        arrays[f"W{i}"], arrays[f"b{i}"] = as_float32(weight.data), as_float32(bias.data)
    for i, velocity in enumerate(optimizer.velocities):
        arrays[f"velocity{i}"] = as_float32(velocity)
    for key in HISTORY_KEYS:
        arrays[key] = np.asarray(history[key], dtype=np.float64)
    problems = schema_problems(arrays)
    if problems:
        raise KitError(f"{path} was not written: the network to save does not fit the schema of model.npz (was the "
                       f"MLP class of model.py changed?): {BadModelFile(path, problems).listed()}")
    # Zipped in memory first: a full disk then fails one write of ours rather than the middle of NumPy's zip writer,
    # which (NumPy < 2) leaves a ZipFile that prints a traceback of its own when it is collected.
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_atomically(path, lambda file: file.write(buffer.getbuffer()))


def as_float32(array):
    return np.asarray(array, dtype=np.float32)


def load(path):
    """Read model.npz into a dict of arrays, checked against the schema above.

    KitError when there is no file; BadModelFile (a KitError) naming every problem when it is unreadable or
    breaks the schema."""
    path = Path(path)
    if not path.is_file():
        raise KitError(say(f"No model at {path}.", f"{path} 处没有模型。"))
    try:
        with np.load(path, allow_pickle=False) as npz:
            saved = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, MemoryError, RuntimeError, NotImplementedError, zipfile.BadZipFile,
            zipfile.LargeZipFile, zlib.error) as exc:  # what a damaged zip or .npy inside it raises
        raise BadModelFile(path, [f"it is not a readable model file ({type(exc).__name__}: {exc})"]) from None
    if not isinstance(saved, dict) or not saved:
        raise BadModelFile(path, ["it holds no arrays"])
    problems = schema_problems(saved)
    if problems:
        raise BadModelFile(path, problems)
    return saved


def schema_problems(saved):
    """Every way the dict of arrays `saved` breaks the schema, one short sentence each; [] when it follows it."""
    version = saved.get("format_version")
    if version is None:
        return ["format_version is missing: this is not a model.npz written by this kit"]
    if scalar_problem("format_version", version, INT, lambda n: n == FORMAT_VERSION, str(FORMAT_VERSION)):
        shown = version.item() if isinstance(version, np.ndarray) and version.size == 1 else version
        return [f"it has format version {shown!r}; this kit reads version {FORMAT_VERSION} (a file written by "
                "another version of the kit: update the kit, or train again)"]
    problems = []
    for key, (kind, valid, rule) in SCALARS.items():
        if key in saved:
            problems += scalar_problem(key, saved[key], kind, valid, rule)
        elif key not in OPTIONAL:
            problems.append(f"{key} is missing")
    dims = layer_sizes(saved, problems)
    if dims is None:
        return problems  # without the sizes, the shapes of the arrays cannot be checked
    shapes = {}
    for i in range(len(dims) - 1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (dims[i], dims[i + 1]), (1, dims[i + 1])
    for j, shape in enumerate(list(shapes.values())):
        shapes[f"velocity{j}"] = shape
    epoch_is_valid = "epoch" in saved and not scalar_problem("epoch", saved["epoch"], *SCALARS["epoch"])
    for key in HISTORY_KEYS:  # one value per finished epoch (any length when epoch itself is wrong)
        shapes[key] = (int(saved["epoch"]),) if epoch_is_valid else None
    for key, shape in shapes.items():
        problems += array_problem(key, saved.get(key), shape)
    return problems


def scalar_problem(key, value, kind, valid, rule):
    """[] when value is one number of the kind (INT or FLOAT) passing valid(), else [the problem]."""
    if isinstance(value, np.generic):  # a NumPy number, as save() has it before writing
        value = np.asarray(value)
    if not isinstance(value, np.ndarray):
        return [f"{key} is not an array"]
    if value.shape != () and value.size != 1:
        return [f"{key} has shape {value.shape}, not one number"]
    if value.dtype.kind not in ("iu" if kind == INT else "iuf"):
        return [f"{key} holds {value.dtype} values, not a {kind}"]
    number = value.item()
    if kind == FLOAT and not math.isfinite(number):
        return [f"{key} is {number}, not a finite number"]
    if not valid(number):
        return [f"{key} is {number}, not {rule}"]
    return []


def layer_sizes(saved, problems):
    """[input_dim, *hidden_dims, output_dim] when they are all there and valid, else None (problems noted)."""
    hidden = saved.get("hidden_dims")
    if hidden is None:
        problems.append("hidden_dims is missing")
        return None
    if not isinstance(hidden, np.ndarray) or hidden.ndim != 1 or hidden.dtype.kind not in "iu" or hidden.size == 0:
        problems.append("hidden_dims is not a list of whole numbers (such as [256, 128])")
        return None
    if (hidden < 1).any():
        problems.append(f"hidden_dims is {hidden.tolist()}: every size must be >= 1")
        return None
    for key in ("input_dim", "output_dim"):
        if key not in saved or scalar_problem(key, saved[key], *SCALARS[key]):
            return None  # already among the problems
    return [int(saved["input_dim"]), *map(int, hidden), int(saved["output_dim"])]


def array_problem(key, value, shape):
    """[] when value is a float array of the given shape (None: any 1-D shape) with finite values, else [the
    problem]."""
    if value is None:
        return [f"{key} is missing"]
    if not isinstance(value, np.ndarray):
        return [f"{key} is not an array"]
    if value.dtype.kind != "f":
        return [f"{key} holds {value.dtype} values, not numbers with a fraction (float)"]
    if value.shape != shape and (shape is not None or value.ndim != 1):
        return [f"{key} has shape {value.shape}, not {shape or 'one value per epoch'}"]
    if not np.isfinite(value).all():
        return [f"{key} holds NaN or infinite values (the run that wrote it diverged)"]
    return []


def resume(path, model, optimizer, config):
    """Load weights, optimizer state and history from model.npz into model and optimizer; returns (epoch, history)."""
    if not path.is_file():
        raise KitError(say(f"--resume: there is no {path} to continue from. Train once without --resume.",
                           f"--resume：没有可以接着训练的 {path}。先不加 --resume 训练一次。"))
    try:
        saved = load(path)
    except BadModelFile as bad:
        raise KitError(f"--resume: {path} cannot be used: {bad.listed()}\nRun without --resume to train from "
                       f"scratch: this file is then kept beside it as {aside_names(path.parent, 'unreadable')[0].name}."
                       ) from None
    saved_dims = [int(n) for n in saved["hidden_dims"]]
    if saved_dims != list(config.hidden_dims):
        saved_sizes, sizes = " ".join(map(str, saved_dims)), " ".join(map(str, config.hidden_dims))
        raise KitError(say(f"--resume: {path} was trained with --hidden_dims {saved_sizes}, not {sizes}. Use the same "
                           f"sizes, or another --model_dir.",
                           f"--resume：{path} 是用 --hidden_dims {saved_sizes} 训练的，不是 {sizes}。用同样的大小，"
                           f"或者换一个 --model_dir。"))
    load_weights(model, saved, path)
    optimizer.velocities = [saved[f"velocity{i}"].astype(np.float32) for i in range(len(optimizer.parameters))]
    epoch = int(saved["epoch"])
    print(say(f"Resuming from {path}: {epoch} of {config.epochs} epochs done.",
              f"从 {path} 接着训练：{config.epochs} 轮中已完成 {epoch} 轮。"))
    return epoch, {key: [float(v) for v in saved[key]] for key in HISTORY_KEYS}


def build_model(saved, model_module):
    """An MLP of `model_module` (the model.py of a tree) with the saved architecture and weights."""
    hidden_dims = [int(n) for n in saved["hidden_dims"]]
    model = model_module.MLP(int(saved["input_dim"]), hidden_dims, int(saved["output_dim"]))
    load_weights(model, saved)
    return model


def load_weights(model, saved, path="model.npz"):
    """Copy the saved W0, b0, W1, b1, ... into the Parameters of `model`, which must have the same shapes (KitError
    otherwise: the network of model.py is not the one that was saved)."""
    params = model.parameters()
    names = [f"{letter}{i}" for i in range(len(params) // 2) for letter in "Wb"]
    found = [tuple(np.shape(p.data)) for p in params]
    wanted = [saved[name].shape if name in saved else None for name in names]
    if len(params) % 2 or found != wanted:
        raise KitError(f"{path} holds a network of parameter shapes {wanted}, but the MLP of model.py has "
                       f"{found}. Keep the MLP class as it was given, or train again.")
    for param, name in zip(params, names):
        param.data = saved[name].astype(np.float32)


def prepare_inputs(pixels, saved):
    """pixels (N, 784) in [0, 1] -> the float32 network input the model was trained with."""
    return ((pixels - saved["input_mean"]) / saved["input_std"]).astype(np.float32)


# ---------------------------------------------------------------------------------------------------- the folder


ARTIFACTS = (MODEL_NAME, "loss.png", "confusion.png", "mistakes.png")
LOCK_NAME = ".training.lock"


class ModelFolder:
    """The --model_dir of one training run, for as long as it trains:

        with ModelFolder(model_dir, command, resume) as folder:
            folder.save(model, optimizer, config, epoch, history)    # model.npz, atomically
            folder.saved_epoch                                       # the epoch model.npz holds (0: none yet)

    - One run at a time: the folder is locked (coursekit.files.FolderLock); a second run in the same folder stops
      at once with a message naming the first. A folder that cannot be written is found here, before epoch 1.
    - An earlier run is kept: a run without --resume in a folder holding a model leaves it untouched until its own
      first epoch is saved; then the earlier model.npz (and its pictures) are kept beside it with their epoch in
      the name, e.g. model-epoch3.npz, loss-epoch3.png. Nothing is ever overwritten without a trace.
    - Temporary files left by a run that was killed (SIGKILL, a power cut) are removed.
    """

    def __init__(self, path, command, resume=False):
        self.path = Path(path)
        self.model_path = self.path / MODEL_NAME
        self.command, self.resume = command, resume
        self.saved_epoch = 0
        self.earlier_tag = None  # e.g. "epoch3": an earlier run's files, kept aside at the first save
        started = time.strftime("%Y-%m-%d %H:%M")
        self.lock = FolderLock(self.path, f"process {os.getpid()}, started {started}: {command}", LOCK_NAME)

    def __enter__(self):
        try:
            self.lock.__enter__()
        except FolderInUse as busy:
            holder = busy.holder or say("its process is unknown", "不知道是哪个进程")
            raise KitError(say(f"Another training run is using {self.path} ({holder}).\nWait for it to finish, or "
                               f"stop it, or give this run a folder of its own: --model_dir OTHER_FOLDER.",
                               f"另一个训练正在使用 {self.path}（{holder}）。\n等它结束，或者停掉它，或者给这次训练"
                               f"另一个文件夹：--model_dir 别的文件夹。")) from None
        except KitError as error:
            raise KitError(f"{error} " + say("Choose a --model_dir you can write to.",
                                             "请选一个可以写入的 --model_dir。")) from None
        remove_stale_temporaries(self.path, ARTIFACTS)
        if not self.resume and self.model_path.is_file():
            self.note_earlier_run()
        return self

    def __exit__(self, *exc_info):
        self.lock.__exit__(*exc_info)

    def note_earlier_run(self):
        try:
            saved = load(self.model_path)
        except KitError:
            self.earlier_tag, what = "unreadable", say("a model this kit cannot read", "一个读不了的模型")
        else:
            epoch, epochs = int(saved["epoch"]), int(saved["epochs"]) if "epochs" in saved else None
            self.earlier_tag = f"epoch{epoch}"
            what = (say(f"an earlier run ({epoch} of {epochs} epochs)", f"之前训练的结果（{epochs} 轮中的 {epoch} 轮）")
                    if epochs else say(f"an earlier run ({epoch} epochs)", f"之前训练的结果（{epoch} 轮）"))
        kept_as = aside_names(self.path, self.earlier_tag)[0].name
        print(say(f"Note: {self.model_path} holds {what}. This run starts from scratch and keeps it as {kept_as} "
                  f"when it saves its first epoch. To continue it instead, stop and add --resume.",
                  f"注意：{self.model_path} 里已经有{what}。这次从头训练，保存第一轮时会把它另存为 {kept_as}。"
                  f"如果想接着它训练，请停下来并加上 --resume。"))

    def nothing_saved(self):
        """What to say when the run stops before it has saved anything."""
        untouched = (say(f"; the earlier run in {self.model_path} is untouched",
                         f"；{self.model_path} 里之前的结果没有动") if self.earlier_tag else "")
        return say(f"Stopped before the first epoch finished: nothing was saved{untouched}.",
                   f"第一轮还没结束就停下了：什么都没有保存{untouched}。")

    def resume_into(self, model, optimizer, config):
        """resume() from this folder's model.npz; returns (epoch, history)."""
        epoch, history = resume(self.model_path, model, optimizer, config)
        self.saved_epoch = epoch
        return epoch, history

    def save(self, model, optimizer, config, epoch, history):
        """Save model.npz (the first time, after keeping an earlier run's files aside). Ctrl-C or SIGTERM during a
        save takes effect once it is done (a fraction of a second), so saved_epoch always says what the file holds."""
        with interrupts_deferred():
            if self.earlier_tag:
                self.keep_earlier_run()
            save(self.model_path, model, optimizer, config, epoch, history)
            self.saved_epoch = epoch

    def keep_earlier_run(self):
        """Keep the earlier run's model.npz by copying it (the original stays until the new one replaces it, so a
        failing first save loses nothing), and move its pictures aside, all under the same tag."""
        asides = aside_names(self.path, self.earlier_tag)
        with open(self.model_path, "rb") as earlier:
            write_atomically(asides[0], lambda file: shutil.copyfileobj(earlier, file))
        kept = [asides[0].name]
        for name, aside in zip(ARTIFACTS[1:], asides[1:]):
            try:
                os.replace(self.path / name, aside)
                kept.append(aside.name)
            except FileNotFoundError:
                continue  # that picture was never drawn (a run stopped early)
            except OSError as error:
                raise KitError(f"Could not keep {self.path / name} as {aside.name}: {error.strerror}.") from None
        print(say(f"Kept the earlier run as {', '.join(kept)} in {self.path}.",
                  f"之前的结果已另存为 {self.path} 里的 {'、'.join(kept)}。"))
        self.earlier_tag = None


def aside_names(folder, tag):
    """The names the artifacts of an earlier run are kept under, e.g. model-epoch3.npz, loss-epoch3.png, ...: the
    first tag (epoch3, epoch3-2, epoch3-3, ...) for which none of them exists yet."""
    for number in range(1, 10_000):
        suffix = tag if number == 1 else f"{tag}-{number}"
        names = [Path(folder) / f"{Path(name).stem}-{suffix}{Path(name).suffix}" for name in ARTIFACTS]
        if not any(path.exists() for path in names):
            return names
    raise KitError(f"{folder} holds thousands of earlier runs: delete some.")

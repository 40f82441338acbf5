"""model.npz: everything needed to rebuild the network, use it, and resume training.

Keys (all plain arrays, so np.load(path, allow_pickle=False) works):
    format_version              1
    input_dim, output_dim       ints;  hidden_dims  int array, e.g. [256, 128]
    input_mean, input_std       input preprocessing: x = (pixels - input_mean) / input_std, pixels in [0, 1]
    W0, b0, W1, b1, ...         the Linear layers' parameters, in order
    velocity0, velocity1, ...   the optimizer's state, one per parameter, same order
    epoch                       number of finished epochs
    lr, momentum, batch_size, seed
    train_loss, train_acc, val_loss, val_acc   history, one value per finished epoch
"""

import zipfile
from pathlib import Path

import numpy as np

from coursekit.errors import KitError
from coursekit.files import write_atomically

FORMAT_VERSION = 1
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")


def save(path, model, velocities, *, hidden_dims, input_mean, input_std, epoch, lr, momentum, batch_size, seed,
         history):
    """Write model.npz atomically: to a temporary name first, then rename, so a crash never leaves half a file."""
    params = model.parameters()
    arrays = {
        "format_version": FORMAT_VERSION,
        "input_dim": params[0].data.shape[0],
        "output_dim": params[-1].data.shape[1],
        "hidden_dims": np.asarray(hidden_dims, dtype=np.int64),
        "input_mean": input_mean,
        "input_std": input_std,
        "epoch": epoch,
        "lr": lr,
        "momentum": momentum,
        "batch_size": batch_size,
        "seed": seed,
    }
    for i, (weight, bias) in enumerate(zip(params[0::2], params[1::2])):
        arrays[f"W{i}"], arrays[f"b{i}"] = weight.data, bias.data
    for i, velocity in enumerate(velocities):
        arrays[f"velocity{i}"] = velocity
    for key in HISTORY_KEYS:
        arrays[key] = np.asarray(history[key], dtype=np.float64)
    write_atomically(path, lambda file: np.savez(file, **arrays))


def load(path):
    """Read model.npz into a dict of arrays; KitError with a plain message if it is missing or unreadable."""
    path = Path(path)
    if not path.is_file():
        raise KitError(f"No model at {path}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            saved = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise KitError(f"{path} is not a readable model file ({exc}). Train again to rewrite it.") from None
    required = ("format_version", "hidden_dims", "input_mean", "input_std", "W0", "b0")
    missing = [key for key in required if key not in saved]
    if missing:
        raise KitError(f"{path} is not a model.npz written by this kit (missing {', '.join(missing)}).")
    if int(saved["format_version"]) != FORMAT_VERSION:
        raise KitError(f"{path} has format version {int(saved['format_version'])}; this kit reads {FORMAT_VERSION}.")
    return saved


def build_model(saved, model_module):
    """An MLP of `model_module` (the model.py of a tree) with the saved architecture and weights."""
    hidden_dims = [int(n) for n in saved["hidden_dims"]]
    model = model_module.MLP(int(saved["input_dim"]), hidden_dims, int(saved["output_dim"]))
    load_weights(model, saved)
    return model


def load_weights(model, saved):
    """Copy the saved W0, b0, W1, b1, ... into the Parameters of `model` (an MLP of the same architecture)."""
    params = model.parameters()
    for i, (weight, bias) in enumerate(zip(params[0::2], params[1::2])):
        weight.data = saved[f"W{i}"].astype(np.float32)
        bias.data = saved[f"b{i}"].astype(np.float32)


def prepare_inputs(pixels, saved):
    """pixels (N, 784) in [0, 1] -> the float32 network input the model was trained with."""
    return ((pixels - saved["input_mean"]) / saved["input_std"]).astype(np.float32)

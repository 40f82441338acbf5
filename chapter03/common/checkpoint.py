"""model.npz: everything needed to rebuild the network, use it, and resume training.

Keys (all plain arrays, so np.load(path, allow_pickle=False) works):
    format_version              1
    input_dim, output_dim       ints;  hidden_dims  int array, e.g. [256, 128]
    input_mean, input_std       input preprocessing: x = (pixels - input_mean) / input_std, pixels in [0, 1]
    W0, b0, W1, b1, ...         the Linear layers' parameters, in order
    velocity0, velocity1, ...   the optimizer's state, one per parameter, same order
    epoch                       number of finished epochs
    lr, momentum, batch_size, epochs, seed   the run's Config (run.py); `epochs` is the number the run aimed at
    train_loss, train_acc, val_loss, val_acc   history, one value per finished epoch
"""

import zipfile
from pathlib import Path

import numpy as np

from coursekit.errors import KitError
from coursekit.files import write_atomically

FORMAT_VERSION = 1
HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc")


def save(path, model, optimizer, config, epoch, history):
    """Write model.npz atomically: to a temporary name first, then rename, so a crash never leaves half a file.

    model: the MLP; optimizer: its SGD (velocities); config: the run's Config; epoch: finished epochs;
    history: {key: list of one value per epoch} for HISTORY_KEYS.
    """
    from .train import MNIST_MEAN, MNIST_STD

    params = model.parameters()
    arrays = {
        "format_version": FORMAT_VERSION,
        "input_dim": params[0].data.shape[0],
        "output_dim": params[-1].data.shape[1],
        "input_mean": MNIST_MEAN,
        "input_std": MNIST_STD,
        "epoch": epoch,
        **{key: np.asarray(value) for key, value in config.as_dict().items()},
    }
    arrays["hidden_dims"] = np.asarray(config.hidden_dims, dtype=np.int64)
    for i, (weight, bias) in enumerate(zip(params[0::2], params[1::2])):
        arrays[f"W{i}"], arrays[f"b{i}"] = weight.data, bias.data
    for i, velocity in enumerate(optimizer.velocities):
        arrays[f"velocity{i}"] = velocity
    for key in HISTORY_KEYS:
        arrays[key] = np.asarray(history[key], dtype=np.float64)
    write_atomically(path, lambda file: np.savez(file, **arrays))


def resume(path, model, optimizer, config):
    """Load weights, optimizer state and history from model.npz into model and optimizer; returns (epoch, history)."""
    if not path.is_file():
        raise KitError(f"--resume: there is no {path} to continue from. Train once without --resume.")
    saved = load(path)
    saved_dims = [int(n) for n in saved["hidden_dims"]]
    if saved_dims != list(config.hidden_dims):
        raise KitError(f"--resume: {path} was trained with --hidden_dims {' '.join(map(str, saved_dims))}, "
                       f"not {' '.join(map(str, config.hidden_dims))}. Use the same sizes, or another --model_dir.")
    load_weights(model, saved)
    optimizer.velocities = [saved[f"velocity{i}"].astype(np.float32) for i in range(len(optimizer.parameters))]
    epoch = int(saved["epoch"])
    print(f"Resuming from {path}: {epoch} of {config.epochs} epochs done.")
    return epoch, {key: [float(v) for v in saved[key]] for key in HISTORY_KEYS}


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

"""Mini-batch training of an MLP: forward, loss, backward (model.py's layers), SGD step; evaluation."""

import math

import numpy as np

from coursekit.blas import fastest_threads
from coursekit.errors import KitError
from coursekit.i18n import say

# MNIST's pixel mean and std (pixels in [0, 1]): standardized inputs start the sigmoids in their useful range.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class SGD:
    """Stochastic gradient descent with momentum, for a list of Parameters.

    velocity = momentum * velocity - lr * grad;  data += velocity.   With momentum 0 it is plain SGD: data -= lr * grad.
    """

    def __init__(self, parameters, lr, momentum=0.0, velocities=None):
        self.parameters = parameters
        self.lr = lr
        self.momentum = momentum
        self.velocities = velocities if velocities is not None else [np.zeros_like(p.data) for p in parameters]
        # lr * grad goes here: a new array at every step costs more than the arithmetic
        self.scaled_grads = [np.empty_like(p.data) for p in parameters]

    def step(self):
        for param, velocity, scaled_grad in zip(self.parameters, self.velocities, self.scaled_grads):
            try:
                np.multiply(param.grad, self.lr, out=scaled_grad)
            except (ValueError, TypeError):
                raise KitError(wrong_gradient(param)) from None
            velocity *= self.momentum
            velocity -= scaled_grad
            param.data += velocity  # in place: the layers keep reading the same array


def wrong_gradient(param):
    shape = getattr(param.grad, "shape", None)
    got = (say(f"an array of shape {shape}", f"形状为 {shape} 的数组") if shape is not None
           else say(f"a {type(param.grad).__name__}", f"一个 {type(param.grad).__name__}"))
    return say(f"A gradient does not fit its parameter: the parameter has shape {param.data.shape}, but its .grad is "
               f"{got}. Each backward must set W.grad with the shape of W and b.grad with the shape of b: run the "
               f"checks (main.py --checks_only) to see which.",
               f"有一个梯度和它的参数对不上：参数的形状是 {param.data.shape}，它的 .grad 却是{got}。每个 backward "
               f"都要把 W.grad 设成 W 的形状、b.grad 设成 b 的形状：运行检查（main.py --checks_only）看看是哪一个。")


class Diverged(Exception):
    """The loss became NaN or infinite."""


class NotLearning(Exception):
    """After an epoch, the network does no better than guessing, or its loss has not gone down: why, in words."""


# Below this many times chance after an epoch is "not learning": even plain SGD at lr 0.001 gets over 30% in one.
NEAR_CHANCE = 2.0


def check_learning(epoch, val_loss, val_acc, start_loss, classes):
    """Raise NotLearning when val_acc is near chance (1 / classes), or after epoch 1 the loss is not below
    start_loss (the validation loss before training; None: not checked)."""
    chance = 1.0 / classes
    if val_acc < NEAR_CHANCE * chance:
        raise NotLearning(say(f"after epoch {epoch} the network gets only {val_acc:.1%} of the validation digits "
                              f"right, hardly more than guessing ({chance:.0%})",
                              f"第 {epoch} 轮之后，网络只认对了 {val_acc:.1%} 的验证集数字，"
                              f"和瞎猜（{chance:.0%}）差不多"))
    if epoch == 1 and start_loss is not None and not val_loss < start_loss:
        raise NotLearning(say(f"after the first epoch the validation loss is {val_loss:.4f}, no lower than before "
                              f"training ({start_loss:.4f})",
                              f"第一轮之后验证集损失是 {val_loss:.4f}，没有比训练前（{start_loss:.4f}）低"))


def standardize(images_uint8, out):
    """uint8 pixels (N, 784) -> float32 network inputs (N, 784) written into `out`: (pixels / 255 - mean) / std."""
    np.multiply(images_uint8, np.float32(1.0 / (255.0 * MNIST_STD)), out=out)
    out -= np.float32(MNIST_MEAN / MNIST_STD)
    return out


def train_one_epoch(model, loss_fn, optimizer, images, labels, batch_size, rng, progress=None,
                    skip_input_gradient=False):
    """One pass over images (N, 784) uint8, labels (N,) in a random order: (mean loss, accuracy).

    progress(batches_done, loss, acc) is called every 20 batches; Diverged when a batch loss is not finite.
    skip_input_gradient: a speed-up (the end of this file), the same parameter gradients.
    """
    backward = WithoutInputGradient(model) if skip_input_gradient else model.backward
    count = len(images)
    order = rng.permutation(count)
    eye = np.eye(model.parameters()[-1].data.shape[1], dtype=np.float32)
    # Each batch's rows gathered into the same two arrays: a shuffled copy of all the images (43 MB) is new memory
    # at every epoch, and costs a tenth of the epoch.
    pixels = np.empty((batch_size, images.shape[1]), dtype=images.dtype)
    inputs = np.empty((batch_size, images.shape[1]), dtype=np.float32)
    total_loss = correct = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught by its loss, below, not by warnings
        # fastest_threads: the same starts, timed to choose the threads of the matrix products (coursekit/blas.py)
        for batch, start in enumerate(fastest_threads(range(0, count, batch_size))):
            rows = order[start : start + batch_size]
            batch_labels = labels[rows]
            x = standardize(np.take(images, rows, axis=0, out=pixels[: len(rows)]), inputs[: len(rows)])
            probs = model(x)
            loss = loss_fn(probs, eye[batch_labels])
            if not math.isfinite(loss):
                raise Diverged(say(f"the loss became {loss} at batch {batch + 1}",
                                   f"损失在第 {batch + 1} 批变成了 {loss}"))
            backward(loss_fn.backward())  # model.backward: every Parameter's .grad
            optimizer.step()
            total_loss += loss * len(batch_labels)
            correct += np.count_nonzero(probs.argmax(axis=1) == batch_labels)
            if progress is not None and batch % 20 == 0:
                seen = start + len(batch_labels)
                progress(batch + 1, total_loss / seen, correct / seen)
    return total_loss / count, correct / count


def predict(model, images, batch_size=1000):
    """Class probabilities (N, classes) for uint8 images (N, 784), in chunks to bound memory."""
    inputs = np.empty((batch_size, images.shape[1]), dtype=np.float32)
    chunks = []
    for start in range(0, len(images), batch_size):
        chunk = images[start : start + batch_size]
        chunks.append(np.array(model(standardize(chunk, inputs[: len(chunk)]))))
    return np.concatenate(chunks)


def evaluate(model, loss_fn, images, labels):
    """(mean loss, accuracy, probs (N, classes)) of the model on a labelled set."""
    probs = predict(model, images)
    targets = np.eye(probs.shape[1], dtype=np.float32)[labels]
    return loss_fn(probs, targets), float(np.mean(probs.argmax(axis=1) == labels)), probs


# A speed-up, not needed to follow the training above: the parameters get the same gradients.


class WithoutInputGradient:
    """model.backward(grad) without the images' gradient (a fifth of an epoch): the first Linear.backward runs with
    W.data an empty (0, M) view, so `grad_output @ W.T` is empty. The first batch checks the gradients are the same;
    when not, model.backward is used for the whole epoch."""

    def __init__(self, model):
        self.model = model
        layers = getattr(model, "layers", None)
        self.usable = None if layers and hasattr(layers[0], "W") else False  # None: not checked yet

    def __call__(self, grad):
        if self.usable:
            return self.without_input_gradient(grad)
        self.model.backward(grad)
        if self.usable is None:
            self.usable = self.gives_the_same_gradients(grad)

    def without_input_gradient(self, grad):
        layers = self.model.layers
        for layer in reversed(layers[1:]):
            grad = layer.backward(grad)
        first = layers[0]
        weight = first.W.data
        first.W.data = weight[:0]  # (0, M): the same columns, no rows
        try:
            first.backward(grad)
        finally:
            first.W.data = weight

    def gives_the_same_gradients(self, grad):
        """After model.backward(grad): does without_input_gradient(grad) give the same? Leaves model.backward's."""
        params = self.model.parameters()
        expected = [np.array(param.grad, copy=True) for param in params]
        try:
            self.without_input_gradient(grad)
            return all(np.shape(param.grad) == wanted.shape and np.array_equal(param.grad, wanted)
                       for param, wanted in zip(params, expected))
        except Exception:  # the student's backward needs all of W: then it gets it, with model.backward
            return False
        finally:
            for param, wanted in zip(params, expected):
                param.grad = wanted

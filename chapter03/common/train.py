"""Mini-batch training of an MLP: batches, the SGD optimizer, one epoch, evaluation.

The layers (model.py) only compute gradients; here they are used: forward, loss, backward, optimizer step.
"""

import math

import numpy as np

# MNIST's pixel mean and standard deviation over the training set (pixels in [0, 1]): inputs are standardized
# with them, which lets the first layer start in the sigmoid's useful range and speeds up training.
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

    def step(self):
        for param, velocity in zip(self.parameters, self.velocities):
            velocity *= self.momentum
            velocity -= self.lr * param.grad
            # A new array rather than `+=`: the matrix products have just read param.data on every core, and writing
            # over it in place makes the cores hand its cache lines back and forth (twice as slow on 2 cores).
            param.data = param.data + velocity


class Diverged(Exception):
    """The loss became NaN or infinite."""


def standardize(images_uint8, out):
    """uint8 pixels (N, 784) -> float32 network inputs (N, 784) written into `out`: (pixels / 255 - mean) / std."""
    np.multiply(images_uint8, np.float32(1.0 / (255.0 * MNIST_STD)), out=out)
    out -= np.float32(MNIST_MEAN / MNIST_STD)
    return out


def train_one_epoch(model, loss_fn, optimizer, images, labels, batch_size, rng, progress=None):
    """One pass over (images, labels) in a random order.

    images (N, 784) uint8, labels (N,) int. Returns (mean loss, accuracy). `progress(batches_done, loss, acc)`, if
    given, is called every few batches. Raises Diverged as soon as a batch loss is not finite.
    """
    count = len(images)
    order = rng.permutation(count)
    images, labels = images[order], labels[order]  # one shuffled copy, so each batch is a contiguous slice
    eye = np.eye(model.parameters()[-1].data.shape[1], dtype=np.float32)
    inputs = np.empty((batch_size, images.shape[1]), dtype=np.float32)
    total_loss = correct = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught by its loss, below, not by warnings
        for batch, start in enumerate(range(0, count, batch_size)):
            batch_labels = labels[start : start + batch_size]
            x = standardize(images[start : start + batch_size], inputs[: len(batch_labels)])
            probs = model(x)
            loss = loss_fn(probs, eye[batch_labels])
            if not math.isfinite(loss):
                raise Diverged(f"the loss became {loss} at batch {batch + 1}")
            model.backward(loss_fn.backward())
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

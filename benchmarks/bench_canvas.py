"""How well does the network read digits drawn on the canvas? Prints accuracies; the issue asks for at least 95%.

1. MNIST test digits re-drawn as a user would: dark on a 400 x 400 light canvas, the digit 150 to 330 pixels tall
   (or wide) at a random place (upscaled with bilinear interpolation), then read exactly as `--image` reads a file
   (digit_image.to_mnist, the input normalization saved in model.npz, the model). For comparison, the same canvases
   shrunk whole to 28 x 28, which is what the recipe in digit_image.py is for.
2. Digits drawn with the window's brush: ten hand-written stroke paths (one per digit, in the STROKES table below),
   slanted, stretched and placed at random, rasterized by the same Sketch the window uses, for several brush widths
   (a fraction of the canvas). The width whose strokes come out as thick as MNIST's reads best; canvas.py uses it.

    python benchmarks/bench_canvas.py [--model model/solution/model.npz] [--data_dir data] [--count 10000]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # `import coursekit` and `chapter03.common`

from chapter03.common import checkpoint, data, digit_image  # noqa: E402
from chapter03.common.canvas import BRUSH_FRACTION, CANVAS_SIZE  # noqa: E402
from coursekit.student_code import load_model_module  # noqa: E402

SMALLEST, LARGEST = 150, 330  # the digit's longer side on the canvas, in pixels

# One path per digit in a box 0.6 wide and 1 tall (x to the right, y down): lists of strokes, each a list of points.
STROKES = {
    0: [[(0.3 + 0.28 * np.sin(t), 0.5 - 0.48 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 25)]],
    1: [[(0.3, 0.0), (0.3, 1.0)]],
    2: [[(0.05, 0.25), (0.15, 0.06), (0.3, 0.0), (0.48, 0.08), (0.55, 0.25), (0.45, 0.48), (0.05, 1.0), (0.6, 1.0)]],
    3: [[(0.05, 0.1), (0.3, 0.0), (0.52, 0.1), (0.5, 0.32), (0.25, 0.47), (0.52, 0.6), (0.56, 0.82), (0.35, 1.0),
         (0.05, 0.92)]],
    4: [[(0.4, 0.0), (0.0, 0.68), (0.6, 0.68)], [(0.45, 0.35), (0.45, 1.0)]],
    5: [[(0.55, 0.0), (0.12, 0.0), (0.07, 0.45), (0.35, 0.38), (0.55, 0.55), (0.55, 0.82), (0.35, 1.0),
         (0.05, 0.92)]],
    6: [[(0.5, 0.03), (0.3, 0.0), (0.12, 0.2), (0.05, 0.6), (0.1, 0.9), (0.3, 1.0), (0.5, 0.9), (0.55, 0.7),
         (0.45, 0.53), (0.25, 0.5), (0.07, 0.62)]],
    7: [[(0.0, 0.0), (0.6, 0.0), (0.22, 1.0)]],
    8: [[(0.3 + 0.25 * np.sin(t), 0.26 - 0.26 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 17)]
        + [(0.3 - 0.29 * np.sin(t), 0.76 + 0.24 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 17)]],
    9: [[(0.55, 0.28), (0.45, 0.05), (0.27, 0.0), (0.07, 0.12), (0.07, 0.35), (0.27, 0.46), (0.55, 0.3),
         (0.55, 1.0)]],
}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "model" / "solution" / "model.npz")
    parser.add_argument("--data_dir", type=Path, default=REPO / "data", help="where MNIST is (default: <repo>/data)")
    parser.add_argument("--count", type=int, default=10000, help="test digits to re-draw (default: all 10000)")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def main():
    args = parse_args()
    saved = checkpoint.load(args.model)
    model = checkpoint.build_model(saved, load_model_module(REPO / "chapter03" / "solution" / "model.py"))
    mnist = data.load_mnist(args.data_dir)
    images, labels = mnist.test_images[: args.count].reshape(-1, 28, 28), mnist.test_labels[: args.count]
    rng = np.random.default_rng(args.seed)

    def read(batch):
        """(N, 28, 28) pixels in [0, 1] -> predicted digits (N,)."""
        return model(checkpoint.prepare_inputs(batch.reshape(len(batch), -1), saved)).argmax(axis=1)

    print(f"model {args.model}: epoch {int(saved['epoch'])}, {len(labels)} MNIST test digits")
    print(f"  as they are in MNIST:                  {np.mean(read(images / 255) == labels):7.2%}")

    started = time.perf_counter()
    recipe, shrunk = [], []
    for image in images:
        canvas = redraw(image, rng)
        recipe.append(digit_image.to_mnist(canvas))
        shrunk.append(shrink_whole(canvas))
    seconds = (time.perf_counter() - started) / len(labels)
    print(f"  re-drawn, read with MNIST's recipe:    {np.mean(read(np.stack(recipe)) == labels):7.2%}"
          f"   ({seconds * 1000:.1f} ms per digit, both ways)")
    print(f"  re-drawn, whole canvas shrunk to 28:   {np.mean(read(np.stack(shrunk)) == labels):7.2%}")

    mnist_ink = np.mean(mnist.test_images.sum(axis=1) / 255)  # the sum of a digit's pixels
    print(f"\nDigits drawn with the brush ({CANVAS_SIZE} px canvas; MNIST's ink per digit: {mnist_ink:.0f}):")
    for fraction in sorted({0.04, 0.06, 0.08, 0.10, 0.12, 0.15, BRUSH_FRACTION}):
        brush = round(fraction * CANVAS_SIZE)
        drawn = [(digit, draw_strokes(digit, brush, np.random.default_rng([args.seed, n])))
                 for n in range(100) for digit in STROKES]
        pixels = np.stack([digit_image.to_mnist(gray) for _, gray in drawn])
        accuracy = np.mean(read(pixels) == np.array([digit for digit, _ in drawn]))
        mark = "  <- canvas.py" if fraction == BRUSH_FRACTION else ""
        print(f"  brush {fraction:.3f} x canvas = {brush:2d} px: {accuracy:7.2%} right, "
              f"ink per digit {pixels.sum(axis=(1, 2)).mean():4.0f}{mark}")


def redraw(image, rng):
    """A 28 x 28 MNIST digit (light on dark) -> a 400 x 400 uint8 canvas, dark on light, the digit's longer side
    SMALLEST to LARGEST pixels, at a random place."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    digit = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = rng.integers(SMALLEST, LARGEST + 1) / max(digit.shape)
    width, height = max(1, round(digit.shape[1] * scale)), max(1, round(digit.shape[0] * scale))
    big = np.asarray(Image.fromarray(digit).resize((width, height), Image.Resampling.BILINEAR))
    top = rng.integers(0, CANVAS_SIZE - height + 1)
    left = rng.integers(0, CANVAS_SIZE - width + 1)
    canvas = np.full((CANVAS_SIZE, CANVAS_SIZE), 255, dtype=np.uint8)
    canvas[top : top + height, left : left + width] = 255 - big
    return canvas


def shrink_whole(canvas):
    """The naive way: the whole canvas resized to 28 x 28 and inverted."""
    small = Image.fromarray(canvas).resize((28, 28), Image.Resampling.LANCZOS)
    return 1 - np.asarray(small, dtype=np.float32) / 255


def draw_strokes(digit, brush, rng):
    """Draw STROKES[digit] with a Sketch, as a hand would: every point a little off, the digit slanted, stretched
    and rotated at random, then scaled so that its longer side is SMALLEST to LARGEST pixels, at a random place.
    Returns gray (CANVAS_SIZE, CANVAS_SIZE)."""
    angle = rng.uniform(-0.2, 0.2)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shape = np.array([[rng.uniform(0.7, 1.4), rng.uniform(-0.35, 0.35)], [0.0, 1.0]])  # stretch x, slant
    strokes = [np.array(stroke) @ (turn @ shape).T + rng.normal(0, 0.02, (len(stroke), 2)) for stroke in STROKES[digit]]
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = rng.uniform(SMALLEST, LARGEST) / (high - low).max()
    room = CANVAS_SIZE - brush - (high - low) * scale  # keeps the whole stroke, brush included, on the canvas
    corner = brush / 2 + rng.uniform(0, 1, 2) * room
    sketch = digit_image.Sketch(CANVAS_SIZE, brush)
    for stroke in strokes:
        path = [tuple(point) for point in (stroke - low) * scale + corner]
        sketch.dot(*path[0])
        for (x0, y0), (x1, y1) in zip(path, path[1:]):
            sketch.line(x0, y0, x1, y1)
    return sketch.gray()


if __name__ == "__main__":
    main()

"""Turn a drawing into a 28x28 input that looks like MNIST's digits: MNIST's own recipe.

MNIST's digits were made from scans of handwriting: each digit was cropped, scaled so that its longer side is 20
pixels (keeping its proportions, with anti-aliasing, which gives the grey edges), then pasted into a 28 x 28 image
so that its center of mass falls on the center. The network only ever saw digits made that way, so a digit drawn
anywhere on a canvas, at any size, must be made the same way before the network sees it. Shrinking the whole canvas
to 28 x 28 instead gives a small, off-center digit the network has never seen the like of
(benchmarks/bench_canvas.py measures both).

    gray = read_image("seven.png")     # (H, W) floats, dark strokes on a light background
    pixels = to_mnist(gray)            # (28, 28) float32 in [0, 1], light strokes on black; None when empty
"""

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from coursekit.errors import KitError

SIZE = 28  # MNIST images are 28 x 28 pixels
BOX = 20  # the longer side of the digit inside them
CENTER = 14.0  # where MNIST's centers of mass are (row and column, in pixel indices): measured 14.00 +- 0.29
INK_THRESHOLD = 0.1  # fainter than this is paper, not ink: faint smudges do not stretch the crop
MIN_CONTRAST = 0.25  # an image whose darkest pixel is barely darker than its paper has no drawing on it
# Image files larger than this (pixels, on their longer side) are shrunk to it as they are read. The digit ends up 20
# pixels tall, so this loses nothing for a digit drawn over a hundredth of the page or more; a 13000 x 13000 scan
# would otherwise take over 2 GB as floats.
MAX_SIDE = 2048


# ---------------------------------------------------------------------------------------------------- the recipe


def to_mnist(gray):
    """gray (H, W), dark strokes on a light background, floats in [0, 1] or uint8 (0 to 255), any size
    -> (28, 28) float32 in [0, 1], light strokes on black like MNIST's digits; None when there is no drawing.

    1. invert, so that ink is bright and paper is 0          (ink_of)
    2. crop to the bounding box of the ink                   (crop_to_ink)
    3. scale the longer side to 20 pixels, anti-aliased      (scale_to_box)
    4. paste into 28 x 28, center of mass on the center      (place_by_center_of_mass)
    """
    ink = ink_of(gray)
    if ink is None:
        return None
    return place_by_center_of_mass(scale_to_box(crop_to_ink(ink)))


def ink_of(gray):
    """gray (H, W) -> ink (H, W) float32 in [0, 1]: 0 where the paper is, 1 where the darkest stroke is; None if blank.

    ink = (1 - gray - paper) / (darkest - paper), clipped to [0, 1], where `paper` is the inverted grey level of the
    image's border (its median, so strokes touching the border do not count) and `darkest` the inverted level of
    its darkest pixel. A clean drawing (white paper, black strokes) is just inverted; a grey photo of paper or a
    grey pen are stretched to MNIST's range.
    """
    gray = np.asarray(gray)
    if gray.dtype == np.uint8:
        gray = gray / np.float32(255)
    ink = 1 - gray.astype(np.float32)
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    paper = np.median(border)
    contrast = ink.max() - paper
    if contrast < MIN_CONTRAST:
        return None
    return np.clip((ink - paper) / contrast, 0, 1)


def crop_to_ink(ink):
    """ink (H, W) -> the smallest rectangle (h, w) holding every pixel with ink above INK_THRESHOLD."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def scale_to_box(digit):
    """digit (h, w) -> (h', w') with max(h', w') = 20 and the same proportions (the shorter side at least 1).

    Pillow's LANCZOS filter averages every source pixel under each target pixel when shrinking (anti-aliasing):
    a 300-pixel stroke becomes a smooth 2 to 3 pixel one with grey edges, as in MNIST, not a jagged one.
    """
    height, width = digit.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow wants (width, height)
    image = Image.fromarray(digit.astype(np.float32))  # mode "F": 32-bit floats, no rounding to bytes
    scaled = np.asarray(image.resize(size, Image.Resampling.LANCZOS))
    return np.clip(scaled, 0, 1)  # LANCZOS overshoots a little next to sharp edges


def place_by_center_of_mass(digit):
    """digit (h, w), h and w at most 28 -> (28, 28) float32 with the digit pasted so that its center of mass
    (sum of index * ink / sum of ink, per axis) lands on row and column 14, as in MNIST. The shift is rounded to
    whole pixels, and clipped so that the digit stays whole inside the frame (a lopsided digit such as a 7 may
    end up a little off)."""
    height, width = digit.shape
    mass = digit.sum()
    rows, cols = np.indices(digit.shape)
    center_row = (rows * digit).sum() / mass if mass > 0 else (height - 1) / 2
    center_col = (cols * digit).sum() / mass if mass > 0 else (width - 1) / 2
    top = int(np.clip(round(CENTER - center_row), 0, SIZE - height))
    left = int(np.clip(round(CENTER - center_col), 0, SIZE - width))
    pixels = np.zeros((SIZE, SIZE), dtype=np.float32)
    pixels[top : top + height, left : left + width] = digit
    return pixels


def is_light_on_dark(gray):
    """True when the border of gray (H, W) is mostly dark: light strokes on a dark background, like a saved MNIST
    digit, rather than the dark strokes on light paper that to_mnist expects."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.max() > 1:
        gray = gray / 255
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    return bool(np.median(border) < 0.5)


# ---------------------------------------------------------------------------------------------------- image files


def read_image(path):
    """The image file at path (PNG, JPEG, ... anything Pillow reads) -> gray (H, W) float32 in [0, 1], 1 = white.

    Transparent pixels count as white paper: a PNG drawn on a transparent background keeps its strokes. An image
    larger than MAX_SIDE is shrunk to it as it is read (see MAX_SIDE). Raises KitError when the file is missing or
    is not an image Pillow can read.
    """
    path = Path(path)
    if not path.is_file():
        raise KitError(f"No image file at {path}.")
    try:
        with warnings.catch_warnings():
            # Pillow warns about images of over 89 million pixels (a big scan): they are shrunk at once, below. Over
            # twice that, it refuses them (DecompressionBombError), and so does this function.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft("L", (MAX_SIDE, MAX_SIDE))  # a JPEG is decoded at 1/2, 1/4 or 1/8 of its size if large
                image.load()  # Pillow reads lazily: a truncated file fails here, inside the try
                return grayscale(image)
    except (OSError, ValueError, MemoryError, Image.DecompressionBombError) as exc:  # UnidentifiedImageError too
        raise KitError(f"Cannot read {path} as an image ({exc}). Give a PNG or JPEG file.") from None


def grayscale(image):
    """A Pillow image of any mode -> gray (H, W) float32 in [0, 1], transparent parts laid over white, its longer
    side at most MAX_SIDE. Gray first (one byte per pixel, two with transparency), then shrunk, then floats: the
    full-size image is never held as floats."""
    transparent = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    if max(image.size) >= 2 * MAX_SIDE and image.mode in ("L", "RGB") and not transparent:
        image = image.reduce(max(image.size) // MAX_SIDE)  # averages boxes of k x k pixels: cheap, and before any copy
    if transparent:
        image = image.convert("RGBA").convert("LA")
    elif image.mode != "L":
        image = image.convert("L")
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    pixels = np.asarray(image, dtype=np.float32) / 255
    if transparent:
        gray, alpha = pixels[..., 0], pixels[..., 1]
        return gray * alpha + (1 - alpha)  # laid over white paper
    return pixels


# ---------------------------------------------------------------------------------------------------- drawing


class Sketch:
    """What the mouse draws, as an image: black strokes of a round brush on white, drawn with Pillow.

    The window draws every stroke twice, on the screen (Tk) and here; here is what the network reads (the screen is
    never captured). `brush` is the brush's diameter in pixels.
    """

    def __init__(self, size, brush):
        self.size = size
        self.brush = brush
        self.clear()

    def clear(self):
        self.image = Image.new("L", (self.size, self.size), 255)
        self.pen = ImageDraw.Draw(self.image)

    def dot(self, x, y):
        """A round blot of the brush centered on (x, y): where a stroke starts, and every joint of it."""
        radius = self.brush / 2
        self.pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)

    def line(self, x0, y0, x1, y1):
        """The brush moved from (x0, y0) to (x1, y1). Pillow's wide lines have square ends, so a dot at the end
        rounds the joint with the next segment."""
        self.pen.line((x0, y0, x1, y1), fill=0, width=self.brush)
        self.dot(x1, y1)

    def gray(self):
        """The drawing as gray (size, size) float32 in [0, 1], 1 = white paper."""
        return np.asarray(self.image, dtype=np.float32) / 255

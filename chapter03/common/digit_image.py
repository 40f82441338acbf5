"""A drawing made into a 28 x 28 input by MNIST's own recipe: cropped, scaled to 20 pixels on its longer side
(anti-aliased), pasted with its center of mass on the center. Shrinking the whole canvas instead gives a small,
off-center digit the network has never seen the like of (benchmarks/bench_canvas.py)."""

import numpy as np
from PIL import Image, ImageDraw

from coursekit.errors import KitError
from coursekit.i18n import say

SIZE = 28  # MNIST images are 28 x 28 pixels
BOX = 20  # the longer side of the digit inside them
CENTER = 14.0  # where MNIST's centers of mass are (row and column): measured 14.00 +- 0.29
INK_THRESHOLD = 0.1  # fainter than this is paper, not ink: faint smudges do not stretch the crop
MIN_CONTRAST = 0.25  # an image whose darkest pixel is barely darker than its paper has no drawing on it
# Image files are shrunk to this longer side as they are read: the digit ends up 20 pixels tall anyway, and a
# 13000 x 13000 scan would otherwise take over 2 GB as floats.
MAX_SIDE = 2048


def to_mnist(gray):
    """gray (H, W), dark strokes on a light background, floats in [0, 1] -> (28, 28) float32 in [0, 1],
    light strokes on black like MNIST's; None when there is no drawing."""
    ink = ink_of(gray)
    return None if ink is None else place_by_center_of_mass(scale_to_box(crop_to_ink(ink)))


def ink_of(gray):
    """gray (H, W) -> ink (H, W) float32 in [0, 1], 0 for paper, 1 for the darkest stroke; None if blank.
    ink = (1 - gray - paper) / (darkest - paper), clipped, where paper is the median inverted level of the border
    (strokes touching it do not count): a grey photo of paper or a grey pen are stretched to MNIST's range."""
    ink = 1 - np.asarray(gray, dtype=np.float32)
    paper = np.median(np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]]))
    contrast = ink.max() - paper
    if contrast < MIN_CONTRAST:
        return None
    return np.clip((ink - paper) / contrast, 0, 1)


def crop_to_ink(ink):
    """ink (H, W) -> the smallest rectangle (h, w) holding every pixel with ink above INK_THRESHOLD."""
    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    return ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]


def scale_to_box(digit):
    """digit (h, w) -> (h', w'), max(h', w') = 20, same proportions. LANCZOS averages every source pixel under each
    target pixel (anti-aliasing): a 300-pixel stroke becomes a smooth 2 to 3 pixel one, as in MNIST."""
    height, width = digit.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))  # Pillow wants (width, height)
    scaled = np.asarray(Image.fromarray(digit.astype(np.float32)).resize(size, Image.Resampling.LANCZOS))
    return np.clip(scaled, 0, 1)  # LANCZOS overshoots a little next to sharp edges


def place_by_center_of_mass(digit):
    """digit (h, w), at most 28 x 28 -> (28, 28) float32, pasted so that its center of mass (sum of index * ink /
    sum of ink) lands on row and column 14, the shift rounded and clipped so that the digit stays whole."""
    height, width = digit.shape
    rows, cols = np.indices(digit.shape)
    mass = digit.sum()  # > 0: to_mnist gets here only with ink
    top = int(np.clip(round(CENTER - (rows * digit).sum() / mass), 0, SIZE - height))
    left = int(np.clip(round(CENTER - (cols * digit).sum() / mass), 0, SIZE - width))
    pixels = np.zeros((SIZE, SIZE), dtype=np.float32)
    pixels[top : top + height, left : left + width] = digit
    return pixels


def is_light_on_dark(gray):
    """True when the border of gray (H, W) is mostly dark: light strokes on dark, like a saved MNIST digit."""
    return bool(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])) < 0.5)


def read_image(path):
    """The image file at path (a Path: any format Pillow reads) -> gray (H, W) float32 in [0, 1], 1 = white, transparent
    parts as white paper, at most MAX_SIDE on its longer side (shrunk as bytes: never held as floats at full size)."""
    if not path.is_file():
        raise KitError(say(f"No image file at {path}.", f"{path} 处没有图片文件。"))
    try:
        with Image.open(path) as image:
            image.draft("L", (MAX_SIDE, MAX_SIDE))  # a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size
            image.load()  # Pillow reads lazily: a truncated file fails here, inside the try
            transparent = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
            if max(image.size) >= 2 * MAX_SIDE and image.mode in ("L", "RGB") and not transparent:
                image = image.reduce(max(image.size) // MAX_SIDE)  # averages boxes of k x k pixels: cheap, no copy
            image = image.convert("RGBA").convert("LA") if transparent else image.convert("L")
            if max(image.size) > MAX_SIDE:
                image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
            pixels = np.asarray(image, dtype=np.float32) / 255
    except (OSError, ValueError, MemoryError, Image.DecompressionBombError) as exc:  # UnidentifiedImageError too
        raise KitError(say(f"Cannot read {path} as an image ({exc}). Give a PNG or JPEG file.",
                           f"无法把 {path} 当作图片读取（{exc}）。请给一个 PNG 或 JPEG 文件。")) from None
    if transparent:
        return pixels[..., 0] * pixels[..., 1] + (1 - pixels[..., 1])  # gray * alpha, laid over white paper
    return pixels


class Sketch:
    """What the mouse draws, as the network reads it: black strokes of a round brush (`brush` pixels) on white."""

    def __init__(self, size, brush):
        self.size, self.brush = size, brush
        self.clear()

    def clear(self):
        self.image = Image.new("L", (self.size, self.size), 255)
        self.pen = ImageDraw.Draw(self.image)

    def dot(self, x, y):
        """A round blot of the brush centered on (x, y): where a stroke starts, and every joint of it."""
        radius = self.brush / 2
        self.pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)

    def line(self, x0, y0, x1, y1):
        """The brush moved from (x0, y0) to (x1, y1); a dot rounds the square end of Pillow's wide line."""
        self.pen.line((x0, y0, x1, y1), fill=0, width=self.brush)
        self.dot(x1, y1)

    def gray(self):  # (size, size) float32 in [0, 1], 1 = white paper
        return np.asarray(self.image, dtype=np.float32) / 255

"""Draw digits with the mouse and watch the network trained by main.py read them.

    python handwriting_canvas.py                 # open the window
    python handwriting_canvas.py --image 7.png   # no window: classify an image file
    python handwriting_canvas.py --help          # every flag

This file is the same in startup/ and solution/; each uses the model.py beside it.
"""

import sys
from pathlib import Path

TREE = Path(__file__).resolve().parent
sys.path.insert(0, str(TREE.parents[1]))  # the repository root: `coursekit` and `chapter03.common`

from chapter03.common.canvas import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(TREE))

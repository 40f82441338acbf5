"""Draw digits and watch the network trained by main.py (and the model.py beside this file) read them."""
import sys

if sys.version_info < (3, 9):  # noqa: UP036 (in syntax even Python 2 reads: one line, not a traceback)
    sys.exit("This course kit needs Python 3.9 or newer; this is Python " + sys.version.split()[0] + ".")
from pathlib import Path

TREE = Path(__file__).resolve().parent
sys.path.insert(0, str(TREE.parents[1]))  # the repository root: `coursekit` and `chapter03.common`
from chapter03.common.canvas import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(TREE))

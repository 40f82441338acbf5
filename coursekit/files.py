"""Writing a file so that a crash, Ctrl-C or a full disk never leaves half of it under its name."""

import contextlib
import os
from pathlib import Path

from .errors import KitError


def write_atomically(path, write):
    """Call write(file) on a temporary binary file beside `path`, then rename it to `path` in one step.

    Readers see the previous file or the new one, never a mix. KitError (the previous file intact) when the disk
    or the folder refuses.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as file:
            write(file)
        os.replace(tmp, path)
    except OSError as error:
        remove(tmp)
        raise KitError(f"Could not write {path}: {error.strerror or error}. Its previous version, if any, is intact.") \
            from None
    except BaseException:  # Ctrl-C, or an error inside write(): no temporary file left behind
        remove(tmp)
        raise


def shown_path(path):
    """path relative to the working directory when it is below it, else absolute: the shortest that can be opened."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def remove(path):
    """Delete path if it is there; a path that cannot exist (its folder is a file) is fine too."""
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        path.unlink()

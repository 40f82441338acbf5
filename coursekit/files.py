"""Files that are never half-written (a crash, Ctrl-C, a full disk, two programs writing the same file): written to
a unique temporary name beside the final one, `<name>.<8 random hex digits>.tmp`, then renamed (atomic in a folder)."""

import errno
import os
import time
from pathlib import Path

from .errors import KitError, print_error
from .i18n import say

# On Windows a file another program holds open (antivirus, OneDrive, a picture viewer) cannot be replaced
# (PermissionError, WinError 5 or 32) until it lets go, usually within a second or two.
REPLACE_RETRY_SECONDS = 5.0


class FileHeld(KitError):
    """The replace of a file stayed refused: another program holds it."""


def write_atomically(path, write):
    """write(file) into a new temporary file beside `path`, renamed to `path`; KitError (the previous file intact)."""
    path, tmp = Path(path), None
    try:
        refuse_folder(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        file = open(temporary_name(path), "xb")
        tmp = file.name  # from here on, a file of ours to remove on the way out
        with file:
            write(file)
            flush_to_disk(file)
        try:
            replace_file(tmp, path)
        except PermissionError:
            raise FileHeld(say(f"Could not replace {path}: another program keeps it open (often antivirus, OneDrive "
                               f"syncing the folder, or a program showing the file). Its previous version is intact.",
                               f"无法替换 {path}：另一个程序正打开着它（常见的是杀毒软件、正在同步这个文件夹的 "
                               f"OneDrive，或者正在显示这个文件的程序）。它之前的版本完好无损。")) from None
        tmp = None
    except OSError as error:
        raise KitError(say(f"Could not write {path}: {error.strerror or error}. Its previous version, if any, is "
                           f"intact.", f"无法写入 {path}：{error.strerror or error}。它之前的版本（如果有）完好无损。")
                       + clean_up(tmp)) from None
    except BaseException:  # Ctrl-C, FileHeld, or an error inside write()
        clean_up(tmp, warn=True)
        raise


def replace_file(source, target, retry_seconds=REPLACE_RETRY_SECONDS):
    """os.replace(source, target), tried again for `retry_seconds` while the target is refused (PermissionError)."""
    deadline = time.monotonic() + retry_seconds
    while True:
        try:
            return os.replace(source, target)
        except PermissionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def flush_to_disk(file):
    """The bytes reach the disk before the rename: after a power cut the final name holds a whole file."""
    file.flush()
    try:
        os.fsync(file.fileno())
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):  # a file system that cannot be asked
            raise


def refuse_folder(path):
    if not path.name or path.is_dir():
        raise KitError(say(f"Could not write {path}: it is a folder, not a file. Give the path of a file.",
                           f"无法写入 {path}：这是一个文件夹，不是文件。请给出一个文件的路径。"))


def temporary_name(path, suffix=".tmp"):  # to open with mode "xb": never another program's file
    return path.with_name(f"{path.name}.{os.urandom(4).hex()}{suffix}")


def remove(path):
    """Delete the file at path if there; why it could not be, or None: a failing cleanup never hides the error."""
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as error:
        return error.strerror or str(error)


def clean_up(tmp, warn=False):
    """Remove a temporary file; '' when done (or nothing to do), else a sentence saying it is left, printed if warn."""
    problem = remove(tmp) if tmp is not None else None
    left = say(f" The temporary file {tmp} could not be removed ({problem}): delete it by hand.",
               f"临时文件 {tmp} 删不掉（{problem}）：请手动删除。") if problem else ""
    if left and warn:
        print_error(left.strip())
    return left


def shown_path(path):
    """path relative to the working directory when it is below it, else absolute: the shortest that can be opened."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)

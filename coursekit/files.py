"""Files that are never half-written: whatever happens (a crash, Ctrl-C, a full disk, a second program writing the
same file), a file under its final name is complete, and no temporary file is left behind.

    write_atomically(path, write)            a new version of a file, all or nothing
    with temporary_file(path, ".part") as tmp:   a fresh temporary file beside path (a download), removed at the end
    with FolderLock(folder, note): ...       one program at a time in a folder (a training run's --model_dir)

Temporary files are named `<name>.<8 random hex digits>.tmp` (or `.part`), in the folder of the final file:
unique, so that two programs writing the same file never write into each other's; in the same folder, so that the
last step, a rename, is atomic (a rename to another disk would be a copy).
"""

import contextlib
import errno
import os
import re
import secrets
import time
from pathlib import Path

from .errors import KitError, interrupts_deferred, print_error

TEMPORARY_SUFFIX = ".tmp"
# File systems allow names of 255 bytes; the random part and the suffix need room beside the final name's start.
KEPT_OF_NAME = 48
RANDOM_HEX_DIGITS = 8


def write_atomically(path, write):
    """Call write(file) on a new temporary binary file beside `path`, then rename it to `path` in one step.

    Readers see the previous file or the new one, never a mix; two programs writing the same path at once each
    write a whole file, and the last rename wins. KitError (the previous file intact) when the disk or the folder
    refuses; the temporary file is removed on every way out, Ctrl-C included.
    """
    path = Path(path)
    tmp = file = None
    try:
        refuse_folder(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with interrupts_deferred():  # the cleanup below must know the temporary file's name before Ctrl-C can act
            tmp, file = open_temporary(path)
        with file:
            write(file)
            flush_to_disk(file)
        with interrupts_deferred():  # once renamed, the new file is written: Ctrl-C must not report otherwise
            replace_file(tmp, path)
            tmp = None
    except OSError as error:
        leftover = clean_up(tmp, file)
        raise KitError(f"Could not write {path}: {error.strerror or error}. Its previous version, if any, is intact."
                       f"{leftover}") from None
    except BaseException:  # Ctrl-C, or an error inside write()
        leftover = clean_up(tmp, file)
        if leftover:
            print_error(leftover.strip())
        raise


# On Windows, a file that another program holds open (antivirus, OneDrive, a notebook) cannot be replaced
# (PermissionError, WinError 5 or 32) until it lets go, usually within a second or two.
REPLACE_RETRY_SECONDS = 5.0


def replace_file(source, target, retry_seconds=REPLACE_RETRY_SECONDS):
    """os.replace(source, target), tried again for `retry_seconds` while the target is refused (PermissionError).

    The one way every save and the download replace a file. Raises the last PermissionError when it stays refused.
    """
    deadline = time.monotonic() + retry_seconds
    delay = 0.05
    while True:
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def flush_to_disk(file):
    """Make the bytes written so far reach the disk before the file is renamed, so that after a power cut the final
    name holds the previous version or the new one, never an empty file. Some file systems (a few network or FUSE
    ones) cannot be asked; the rename is still atomic for programs there."""
    file.flush()
    try:
        os.fsync(file.fileno())
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise


def refuse_folder(path):
    """KitError when path names a folder (or the root): a file can't be written there."""
    if not path.name or path.is_dir():
        raise KitError(f"Could not write {path}: it is a folder, not a file. Give the path of a file.")


def temporary_name(path, suffix=TEMPORARY_SUFFIX):
    """A fresh name beside path: '<name>.<random>.tmp', the name cut short if it is long (the random part is what
    makes it unique)."""
    return path.with_name(f"{path.name[:KEPT_OF_NAME]}.{secrets.token_hex(RANDOM_HEX_DIGITS // 2)}{suffix}")


def open_temporary(path, suffix=TEMPORARY_SUFFIX):
    """Create a new file with a fresh temporary name beside path; returns (its path, the open binary file)."""
    while True:
        tmp = temporary_name(path, suffix)
        try:
            return tmp, open(tmp, "xb")  # "x": created now, by this call; never an existing file
        except FileExistsError:
            continue  # another program drew the same random name (1 chance in 4 billion): draw again


def clean_up(tmp, file=None):
    """Close and remove a temporary file; '' when done (or nothing to do), else a sentence saying it is left."""
    if file is not None:
        file.close()
    if tmp is None:
        return ""
    with interrupts_deferred():  # a second Ctrl-C must not leave the temporary file behind
        problem = remove(tmp)
    return f" The temporary file {tmp} could not be removed ({problem}): delete it by hand." if problem else ""


def remove(path):
    """Delete the file at path if it is there. Never raises, so that a failing cleanup never hides the error that
    led to it (a read-only folder, an over-long name): returns why the file could not be removed, or None."""
    try:
        Path(path).unlink()
    except (FileNotFoundError, NotADirectoryError):
        return None  # not there (never created, or already renamed): nothing to remove
    except OSError as error:
        return error.strerror or str(error)
    return None


@contextlib.contextmanager
def temporary_file(path, suffix=TEMPORARY_SUFFIX):
    """Yield the path of a new, empty, uniquely named file beside `path`, and remove it at the end unless it was
    renamed to its final name meanwhile. For files written in several steps (a download, then its check)."""
    path = Path(path)
    with interrupts_deferred():
        tmp, file = open_temporary(path, suffix)
        file.close()
    try:
        yield tmp
    finally:
        leftover = clean_up(tmp)
        if leftover:
            print_error(leftover.strip())


def remove_stale_temporaries(folder, names):
    """Remove the temporary files of `names` in folder left by a program that was killed (SIGKILL, a power cut).
    Only safe while holding the folder's lock: no other program can be writing them."""
    patterns = [re.compile(re.escape(name[:KEPT_OF_NAME]) + rf"(\.[0-9a-f]{{{RANDOM_HEX_DIGITS}}})?\.tmp")
                for name in names]  # with or without the random part (kits before it wrote `model.npz.tmp`)
    for path in Path(folder).iterdir():
        if any(pattern.fullmatch(path.name) for pattern in patterns):
            remove(path)


def shown_path(path):
    """path relative to the working directory when it is below it, else absolute: the shortest that can be opened."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------------- locks


class FolderInUse(KitError):
    """Another program holds the folder's lock; `holder` is what it wrote about itself (may be '')."""

    def __init__(self, folder, holder):
        super().__init__(f"{folder} is in use by another program{f' ({holder})' if holder else ''}.")
        self.folder, self.holder = folder, holder


class FolderLock:
    """Hold the lock file `folder/name` while a program works in the folder; a second program gets FolderInUse.

    The lock is the operating system's (flock on Linux and macOS, msvcrt.locking on Windows), held by an open file:
    it ends with the program however the program ends (even killed), so no stale lock is ever left behind. The
    holder writes `note` (who it is) into the file, for the message the second program shows. The lock file stays.

    KitError when the folder cannot be created or written (found now, before any work is done).
    """

    def __init__(self, folder, note="", name=".lock"):
        self.folder, self.note, self.path = Path(folder), note, Path(folder) / name
        self.file = None

    def __enter__(self):
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.file = open(self.path, "a+b")  # binary: on Windows a byte far out is locked, see _try_lock
        except OSError as error:
            raise KitError(f"Cannot write in {self.folder}: {error.strerror or error}.") from None
        try:
            if not _try_lock(self.file):
                holder = self.path.read_bytes().decode("utf-8", errors="replace").strip()
                raise FolderInUse(self.folder, holder)
            self.file.seek(0)
            self.file.truncate()
            self.file.write(self.note.encode("utf-8"))
            self.file.flush()  # a full disk shows here, before any work
        except FolderInUse:
            self.file.close()
            raise
        except OSError as error:
            self.file.close()
            raise KitError(f"Cannot write in {self.folder}: {error.strerror or error}.") from None
        return self

    def __exit__(self, *exc_info):
        self.file.close()  # closing the file releases the lock


def _try_lock(file):
    """Lock the open file without waiting: True when locked (or when the file system has no locks), False when
    another program holds it."""
    try:
        if os.name == "nt":
            import msvcrt

            file.seek(2**30)  # lock a byte far from the note, so that other programs can still read the note
            msvcrt.locking(file.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    except OSError as error:
        if error.errno not in (errno.ENOLCK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
            raise
        print_error(f"Note: {file.name} cannot be locked here ({error.strerror}): make sure no other program uses "
                    "its folder at the same time.")
    return True

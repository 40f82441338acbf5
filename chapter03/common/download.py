"""Downloading MNIST: the mirrors to try, and a verified download of each missing file.

Downloads try the mirrors in order (--mirror URLs, then $MNIST_MIRROR, then BUILTIN_MIRRORS); any failure moves on
to the next one. Each file is streamed to a temporary name of its own (two runs never share one), verified, and only
then renamed to its final name, so a half-finished download never passes for a whole one.
"""

import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

import requests
import urllib3
from tqdm import tqdm

from coursekit import i18n
from coursekit.errors import KitError, interrupts_deferred
from coursekit.files import temporary_file

from .verify import FILES, GZIP_MAGIC, gunzip, record_in_stamp, verification_problem

# Hosts that serve the official files today (the original yann.lecun.com no longer does).
BUILTIN_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
MIRROR_VARIABLE = "MNIST_MIRROR"
# Some hosts refuse requests without a User-Agent; "identity" asks servers not to compress what is already gzip.
HEADERS = {"User-Agent": "mnist-course-kit/1.0", "Accept-Encoding": "identity"}
RETRY_DELAYS = (1.0, 4.0)  # seconds to wait before the 2nd and the 3rd attempt of a download that broke off
CHUNK_SIZE = 64 * 1024


def mirror_list(cli_mirrors):
    """Every mirror to try, in order: --mirror URLs, then those in $MNIST_MIRROR (separated by spaces), then
    BUILTIN_MIRRORS. Raises KitError naming a URL that is not http://, https:// or file://."""
    cli_mirrors = list(cli_mirrors or [])
    variable = os.environ.get(MIRROR_VARIABLE, "").split()
    check_mirror_urls(cli_mirrors, "--mirror")
    check_mirror_urls(variable, MIRROR_VARIABLE)
    return list(dict.fromkeys(cli_mirrors + variable + BUILTIN_MIRRORS))  # without repeats, order kept


def check_mirror_urls(urls, source):
    """KitError naming the first of urls (given by `source`: --mirror or MNIST_MIRROR) that is not a base URL the
    kit can download from."""
    for url in urls:
        try:
            parsed = urlparse(url)
            usable = parsed.scheme == "file" or (parsed.scheme in ("http", "https") and bool(parsed.hostname))
        except ValueError:  # e.g. 'http://[::1': an unclosed IPv6 address
            usable = False
        if not usable:
            fix = "--mirror https://example.org/mnist/" if source == "--mirror" else \
                f"{MIRROR_VARIABLE}='https://example.org/mnist/', or unset it"
            raise KitError(
                f"The mirror {url!r} (from {source}) is not a URL the kit can download from: a mirror is a base URL "
                f"starting with http://, https:// or file://, for example {fix}"
            )


class FetchFailed(Exception):
    """One attempt to fetch one file from one mirror failed; str() is the short reason shown to the user.

    retry        worth trying the same URL again after a pause (a timeout, a connection cut mid-way, a 5xx)
    unreachable  the mirror cannot be reached at all (DNS, refused, TLS): not worth trying again
    """

    def __init__(self, reason, *, retry=False, unreachable=False):
        super().__init__(reason)
        self.retry = retry
        self.unreachable = unreachable


def download_missing(names, data_dir, mirrors, timeout, checksums, stamp):
    """Fetch each file in names from the first mirror that delivers it verified. Returns the failures, as
    "url: reason" lines, for the message shown if some file could not be obtained."""
    failures = []
    given_up = set()
    with requests.Session() as session:
        session.headers.update(HEADERS)
        for name in names:
            for mirror in mirrors:
                if mirror in given_up:
                    continue
                url = mirror.rstrip("/") + "/" + name + ".gz"
                try:
                    path = fetch_with_retries(session, url, data_dir, name, checksums[name], timeout)
                except FetchFailed as failure:
                    failures.append(f"{url}: {failure}")
                    say(f"  failed: {failure}")
                    # A mirror that cannot be reached, or still fails after the retries, would only make the user
                    # wait again for the next file. One missing a file (404) or serving a bad one may have the others.
                    if failure.unreachable or failure.retry:
                        given_up.add(mirror)
                    continue
                record_in_stamp(stamp, path, checksums[name])
                break
    return failures


def fetch_with_retries(session, url, data_dir, name, expected_sha, timeout):
    """fetch_verified, tried again after RETRY_DELAYS when the failure may be temporary."""
    for delay in (*RETRY_DELAYS, None):
        try:
            return fetch_verified(session, url, data_dir, name, expected_sha, timeout)
        except FetchFailed as failure:
            if not failure.retry or delay is None:
                raise
            say(f"  {failure}; trying again in {delay:g} s")
            time.sleep(delay)


def fetch_verified(session, url, data_dir, name, expected_sha, timeout):
    """Download url to a temporary file in data_dir, verify it, and rename it to its final name, which is
    `name.gz` if the bytes are gzip-compressed and `name` if not. Returns the final path; raises FetchFailed.
    The temporary file is removed whatever happens, Ctrl-C included."""
    say(i18n.say(f"Copying {url}", f"正在复制 {url}") if url.startswith("file:")
        else i18n.say(f"Downloading {url}", f"正在下载 {url}"))
    with temporary_file(data_dir / (name + ".gz"), ".part") as tmp:  # a unique name: two runs never share it
        if url.startswith("file:"):
            copy_local_file(url, tmp)
        else:
            download(session, url, tmp, timeout, label=name + ".gz")
        blob = tmp.read_bytes()
        problem = verification_problem(blob, expected_sha)
        if problem:
            raise FetchFailed(problem)
        if blob[:2] == GZIP_MAGIC and gunzip(blob)[:2] == GZIP_MAGIC:
            blob = gunzip(blob)  # a server compressed the .gz once more on the way: keep the .gz itself
            tmp.write_bytes(blob)
        final = data_dir / (name + ".gz" if blob[:2] == GZIP_MAGIC else name)
        os.replace(tmp, final)
        return final


def copy_local_file(url, tmp):
    """A file:// mirror is a folder on this computer (or a shared drive)."""
    source = Path(url2pathname(urlparse(url).path))
    if not source.parent.is_dir():
        raise FetchFailed(f"no folder {source.parent}", unreachable=True)
    try:
        src = open(source, "rb")
    except OSError as exc:
        raise FetchFailed(f"cannot read it ({exc.strerror})") from None
    with src, open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)


def download(session, url, tmp, timeout, label):
    """Stream url into the file tmp, with a progress bar. Raises FetchFailed with a short reason.

    The bytes are written exactly as the server sent them (decode_content=False): a server that labels the
    .gz file `Content-Encoding: gzip` would otherwise have it decompressed on the way, under a .gz name."""
    connect_timeout, read_timeout = timeout
    try:
        response = session.get(url, stream=True, timeout=timeout)
    except requests.exceptions.ConnectTimeout:
        raise FetchFailed(f"could not connect within {connect_timeout:g} s", unreachable=True) from None
    except requests.exceptions.ReadTimeout:
        raise FetchFailed(f"no answer within {read_timeout:g} s", retry=True) from None
    except requests.exceptions.ProxyError as exc:  # set by HTTP_PROXY / HTTPS_PROXY, or the system's settings
        raise FetchFailed(f"proxy: {connection_problem(exc)}", unreachable=True) from None
    except requests.exceptions.SSLError:
        raise FetchFailed("TLS/SSL error (a proxy or firewall may be in the way)", unreachable=True) from None
    except requests.exceptions.ConnectionError as exc:
        raise FetchFailed(connection_problem(exc), unreachable=True) from None
    except requests.exceptions.RequestException as exc:
        raise FetchFailed(f"request failed ({type(exc).__name__})", unreachable=True) from None
    with response:
        if response.status_code != 200:
            reason = f"HTTP {response.status_code} {response.reason or ''}".strip()
            raise FetchFailed(reason, retry=response.status_code >= 500)
        expected_size = int(response.headers.get("Content-Length", 0)) or None
        received = stream_to_file(response, tmp, expected_size, read_timeout, label)
    if expected_size and received < expected_size:
        raise FetchFailed(f"download cut short ({received:,} of {expected_size:,} bytes)", retry=True)


def stream_to_file(response, tmp, expected_size, read_timeout, label):
    """Write the body of response into tmp as it arrives; returns the number of bytes received."""
    received = 0
    with interrupts_deferred():  # a stop inside tqdm's __init__ would leave half a bar, whose __del__ then fails
        bar = tqdm(
            total=expected_size, desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
            disable=not sys.stderr.isatty(),  # no bar in a log file or a test; say() prints one line instead
        )
    try:
        with bar, open(tmp, "wb") as out:
            for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    except urllib3.exceptions.ReadTimeoutError:
        raise FetchFailed(f"the server stopped sending (nothing for {read_timeout:g} s)", retry=True) from None
    except urllib3.exceptions.ProtocolError as exc:
        if "IncompleteRead" in str(exc):
            size = f"{expected_size:,} bytes" if expected_size else "the whole file"
            raise FetchFailed(f"download cut short (got {received:,} of {size})", retry=True) from None
        raise FetchFailed("connection broken during the download", retry=True) from None
    except urllib3.exceptions.HTTPError as exc:
        raise FetchFailed(f"download failed ({type(exc).__name__})", retry=True) from None
    return received


def connection_problem(exc):
    """A few words on why a connection could not be made, from the text of the error requests raised."""
    text = str(exc)
    if "NameResolution" in text or "getaddrinfo" in text:
        return "host name not found (DNS)"
    errno_text = re.search(r"\[(?:Errno|WinError) -?\d+\] ([^'\"()]+)", text)
    return f"cannot connect ({errno_text.group(1).strip()})" if errno_text else "cannot connect"


def nothing_worked_message(data_dir, missing, failures):
    tried = "\n".join(f"  {line}" for line in failures) or i18n.say("  (no mirror was tried)", "  （没有试过任何镜像）")
    names = "\n".join(f"  {name}.gz" for name in FILES)
    what = "MNIST" if len(missing) == len(FILES) else ", ".join(missing)
    return i18n.say(
        f"Could not download {what}. Tried:\n{tried}\n"
        f"Put the four files (.gz, or uncompressed without .gz) by hand into\n  {data_dir}\n"
        f"named:\n{names}\n"
        "then run again; they are checked by SHA-256, so any copy of the official files works.\n"
        "Or try another mirror: --mirror URL (a base URL serving those four files; file:///folder works too), "
        f"or set {MIRROR_VARIABLE}.",
        f"没能下载 {what}。试过：\n{tried}\n"
        f"请手动把这四个文件（.gz，或者解压后不带 .gz 的）放到\n  {data_dir}\n"
        f"文件名是：\n{names}\n"
        "然后再运行；程序会用 SHA-256 校验，所以官方文件的任何一份拷贝都可以。\n"
        "或者换一个镜像：--mirror URL（提供这四个文件的网址前缀；file:///文件夹 也可以），"
        f"或者设置环境变量 {MIRROR_VARIABLE}。",
    )


def say(line):
    """Progress goes to stderr: stdout is kept for results."""
    print(line, file=sys.stderr, flush=True)

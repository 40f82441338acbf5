"""MNIST's four files, how a copy is verified (the SHA-256 of its decompressed bytes), and their download from the
first mirror that works: --mirror, then $MNIST_MIRROR, then BUILTIN_MIRRORS."""

import contextlib
import hashlib
import nturl2path
import os
import re
import shutil
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
import urllib3
from tqdm import tqdm

from coursekit.errors import KitError
from coursekit.files import clean_up, replace_file, temporary_name
from coursekit.i18n import say

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
# SHA-256 of the decompressed files, as published (the .gz bytes differ between mirrors, their contents do not).
PUBLISHED_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
GZIP_MAGIC = b"\x1f\x8b"

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
WINDOWS_PATH = re.compile(r"[A-Za-z]:[\\/]|\\\\")  # C:\data\mnist, C:/data/mnist, \\server\share\mnist


def problem_with(blob, name, checksums):
    """None when blob (a file as stored: gzip-compressed or not) holds the file `name` of checksums; else why not."""
    try:
        contents = decompressed(blob)
    except zlib.error as exc:
        return say(f"not a complete gzip file ({exc})", f"不是完整的 gzip 文件（{exc}）")
    if contents[:3] != b"\x00\x00\x08":
        return say("not an MNIST file (a server may have sent an error or login page instead)",
                   "不是 MNIST 文件（服务器可能发来了错误页面或登录页面）")
    sha = hashlib.sha256(contents).hexdigest()
    if sha == checksums[name]:
        return None
    holds = next((other for other, expected in checksums.items() if expected == sha), None)
    if holds:  # e.g. two names swapped by hand
        return say(f"it holds {holds}, not {name}", f"它装的是 {holds}，不是 {name}")
    return say("its contents differ from the published MNIST files (SHA-256 mismatch)",
               "内容与公布的 MNIST 文件不同（SHA-256 不符）")


def decompressed(blob):
    """blob with its gzip layers peeled off: none, one, or two (a misconfigured server). IDX never starts with 1f 8b."""
    while blob[:2] == GZIP_MAGIC:
        blob = zlib.decompress(blob, wbits=31)  # 31: a gzip header and trailer around the deflated bytes
    return blob


def mirror_list(cli_mirrors):
    """Every mirror to try, in order: --mirror (checked by cli.py), $MNIST_MIRROR (split), BUILTIN_MIRRORS."""
    variable = os.environ.get(MIRROR_VARIABLE, "").split()
    check_mirror_urls(variable, MIRROR_VARIABLE)
    return list(dict.fromkeys([*(cli_mirrors or []), *variable, *BUILTIN_MIRRORS]))  # without repeats, order kept


def check_mirror_urls(urls, where):
    """KitError naming the first of urls (given by `where`: --mirror or MNIST_MIRROR) the kit cannot download from."""
    for url in urls:
        try:
            parsed = urlparse(url)
            usable = local_folder(url) is not None or (parsed.scheme in ("http", "https") and bool(parsed.hostname))
        except ValueError:  # e.g. 'http://[::1': an unclosed IPv6 address
            usable = False
        if not usable:
            fix = ("--mirror " if where == "--mirror" else f"{MIRROR_VARIABLE}=") + "https://example.org/mnist/"
            raise KitError(say(f"The mirror {url!r} (from {where}) is neither a URL the kit can download from "
                               f"(http://, https://, file://) nor a folder. For example: {fix}",
                               f"镜像 {url!r}（来自 {where}）既不是程序能下载的网址（http://、https://、file://），"
                               f"也不是文件夹。例如：{fix}"))


def local_folder(mirror):
    """The folder a mirror names when it is on this computer or a shared drive; None for a URL of another kind.
    file://server/share/mnist/ is the shared folder \\\\server\\share\\mnist on Windows."""
    if WINDOWS_PATH.match(mirror) or ("://" not in mirror and Path(mirror).is_dir()):
        return Path(mirror)
    parsed = urlparse(mirror)
    if parsed.scheme != "file":
        return None
    host = "" if parsed.netloc in ("", "localhost") else parsed.netloc
    url_path = (f"//{host}" if host else "") + (parsed.path.rstrip("/") or "/")
    return Path(nturl2path.url2pathname(url_path) if os.name == "nt" else unquote(url_path))


class FetchFailed(Exception):
    """One attempt to fetch one file from one mirror failed; str() is the short reason shown. retry: worth trying again
    after a pause (a timeout, a cut, a 5xx); unreachable: not worth it (DNS, refused, TLS); hint: what to do."""

    def __init__(self, reason, *, retry=False, unreachable=False, hint=None):
        super().__init__(reason)
        self.retry, self.unreachable, self.hint = retry, unreachable, hint


def download_missing(names, data_dir, mirrors, timeout, checksums):
    """Fetch each file of names from the first mirror that delivers it verified; KitError when one could not be."""
    with contextlib.suppress(ImportError):  # truststore, when installed: the system's certificates, a proxy's too
        import truststore
        truststore.inject_into_ssl()
    failures, hints, given_up, missing = [], [], set(), []
    with requests.Session() as session:
        session.headers.update(HEADERS)
        for name in names:
            for mirror in (mirror for mirror in mirrors if mirror not in given_up):
                folder = local_folder(mirror)
                source = folder / (name + ".gz") if folder else mirror.rstrip("/") + "/" + name + ".gz"
                try:
                    fetch_with_retries(session, source, data_dir, name, checksums, timeout)
                    break
                except FetchFailed as failure:
                    failures.append(f"{source}: {failure}")
                    hints += [failure.hint] if failure.hint and failure.hint not in hints else []
                    print(say(f"  failed: {failure}", f"  失败：{failure}"), file=sys.stderr, flush=True)
                    # Unreachable, or failing after the retries: the next file would only wait too. One missing a file
                    # (404) or serving a bad one may have the others.
                    if failure.unreachable or failure.retry:
                        given_up.add(mirror)
            else:
                missing.append(name)
    if missing:
        raise KitError(nothing_worked_message(data_dir, missing, failures, hints))


def fetch_with_retries(session, source, data_dir, name, checksums, timeout):  # after RETRY_DELAYS, if temporary
    for delay in (*RETRY_DELAYS, None):
        try:
            return fetch_verified(session, source, data_dir, name, checksums, timeout)
        except FetchFailed as failure:
            if not failure.retry or delay is None:
                raise
            print(say(f"  {failure}; trying again in {delay:g} s", f"  {failure}；{delay:g} 秒后重试"),
                  file=sys.stderr, flush=True)
            time.sleep(delay)


def fetch_verified(session, source, data_dir, name, checksums, timeout):
    """source (a Path or a URL) fetched to a temporary file, verified, renamed `name.gz` (`name` if not gzip)."""
    tmp = temporary_name(data_dir / (name + ".gz"), ".part")  # a unique name: two runs never share it
    try:
        fetch(session, source, tmp, timeout, label=name + ".gz")
        blob = tmp.read_bytes()
        problem = problem_with(blob, name, checksums)
        if problem:
            raise FetchFailed(problem)
        gzipped = blob[:2] == GZIP_MAGIC
        inner = zlib.decompress(blob, wbits=31) if gzipped else b""
        if inner[:2] == GZIP_MAGIC:
            tmp.write_bytes(inner)  # a server compressed the .gz once more on the way: keep the .gz itself
        final = data_dir / (name + ".gz" if gzipped else name)
        try:
            replace_file(tmp, final)
        except PermissionError as exc:
            raise KitError(say(
                f"Could not put {final} in place ({exc.strerror}): another program holds it open, often an antivirus "
                "scan or OneDrive syncing the folder. Wait a moment and run again (the files done so far are kept).",
                f"无法把 {final} 放到位（{exc.strerror}）：另一个程序正打开着它，常见的是杀毒软件的扫描或 OneDrive "
                "的同步。稍等一会儿再运行（已经完成的文件会保留）。",
            )) from None
    finally:
        clean_up(tmp, warn=True)  # gone once renamed


def fetch(session, source, tmp, timeout, label):
    """Copy source (a folder mirror's Path) or stream it (a URL, with a progress bar) into tmp, as the server sent it
    (decode_content=False: a .gz labelled `Content-Encoding: gzip` stays compressed). FetchFailed with a reason."""
    if isinstance(source, Path):  # on this computer or a shared drive
        print(say(f"Copying {source}", f"正在复制 {source}"), file=sys.stderr, flush=True)
        if not source.parent.is_dir():
            raise FetchFailed(say(f"no folder {source.parent}", f"没有文件夹 {source.parent}"), unreachable=True)
        try:
            return shutil.copyfile(source, tmp)
        except OSError as exc:
            raise FetchFailed(say(f"cannot read it ({exc.strerror})", f"无法读取（{exc.strerror}）")) from None
    print(say(f"Downloading {source}", f"正在下载 {source}"), file=sys.stderr, flush=True)
    try:
        response = session.get(source, stream=True, timeout=timeout)
    except requests.exceptions.RequestException as exc:
        raise request_failed(exc, timeout) from None
    with response:
        if response.status_code != 200:
            raise FetchFailed(f"HTTP {response.status_code} {response.reason or ''}".strip(),
                              retry=response.status_code >= 500)
        expected_size, received, broken = int(response.headers.get("Content-Length", 0)) or None, 0, False
        bar = tqdm(total=expected_size, desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                   disable=not sys.stderr.isatty())  # no bar in a log file or a test: one line was printed instead
        try:
            with bar, open(tmp, "xb") as out:  # a new file: never another program's
                for chunk in response.raw.stream(CHUNK_SIZE, decode_content=False):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except urllib3.exceptions.ReadTimeoutError:
            raise FetchFailed(say(f"the server stopped sending (nothing for {timeout[1]:g} s)",
                                  f"服务器停止了发送（{timeout[1]:g} 秒没有数据）"), retry=True) from None
        except urllib3.exceptions.HTTPError:  # IncompleteRead (urllib3 2), a connection reset
            broken = True
    if broken or (expected_size and received < expected_size):  # urllib3 1 ends a cut body quietly
        size = f"{expected_size:,}" if expected_size else "?"
        raise FetchFailed(say(f"download cut short (got {received:,} of {size} bytes)",
                              f"下载被截断（收到 {received:,} / {size} 字节）"), retry=True)


def request_failed(exc, timeout):  # the FetchFailed for an exception requests raised before the body started
    errors = requests.exceptions
    if isinstance(exc, errors.ConnectTimeout):
        return FetchFailed(say(f"could not connect within {timeout[0]:g} s", f"{timeout[0]:g} 秒内没能连上"),
                           unreachable=True)
    if isinstance(exc, errors.ReadTimeout):
        return FetchFailed(say(f"no answer within {timeout[1]:g} s", f"{timeout[1]:g} 秒内没有回应"), retry=True)
    if isinstance(exc, errors.SSLError):
        reason = re.search(r"certificate verify failed[^'\"()]*|\] ([^'\"()]+)", str(exc))
        reason = reason.group(0).lstrip("] ").strip() if reason else type(exc).__name__
        return FetchFailed(say(f"TLS/SSL error: {reason}", f"TLS/SSL 错误：{reason}"), unreachable=True, hint=say(
            "A TLS/SSL error usually means that a proxy of the campus or company network inspects encrypted traffic "
            "with a certificate of its own. Trust that certificate:\n  REQUESTS_CA_BUNDLE=path/to/company-ca.pem   "
            "(ask the network's administrators for the file)\nor use your system's certificates, which usually "
            "include it (Python 3.10 or newer; the kit uses truststore when installed):\n  pip install truststore   "
            "(with uv: uv pip install truststore)",
            "TLS/SSL 错误通常说明校园网或公司网络的代理在用自己的证书检查加密流量。可以信任这个证书：\n  REQUESTS_CA_"
            "BUNDLE=path/to/company-ca.pem   （证书文件向网络管理员索取）\n或者使用操作系统的证书，它们通常已包含"
            "这个证书（需要 Python 3.10 或更新版本；装了 truststore 时程序会用它）：\n  pip install truststore   "
            "（用 uv 时：uv pip install truststore）"))
    if isinstance(exc, errors.ConnectionError):  # ProxyError included: set by HTTP(S)_PROXY, ALL_PROXY or the system
        text = str(exc)
        proxy = say("proxy: ", "代理：") if isinstance(exc, errors.ProxyError) or "SOCKS" in text else ""
        if "NameResolution" in text or "getaddrinfo" in text:
            return FetchFailed(proxy + say("host name not found (DNS)", "找不到主机名（DNS）"), unreachable=True)
        found = re.search(r"\[(?:Errno|WinError) -?\d+\] ([^'\"()]+)", text)
        why = say("cannot connect", "无法连接") + (f" ({found.group(1).strip()})" if found else "")
        return FetchFailed(proxy + why, unreachable=True)
    # e.g. InvalidSchema: "Missing dependencies for SOCKS support." (PySocks, for ALL_PROXY=socks5://...)
    why = f"{type(exc).__name__}: {exc}"
    return FetchFailed(say(f"request failed ({why})", f"请求失败（{why}）"), unreachable=True)


def nothing_worked_message(data_dir, missing, failures, hints):  # what was tried, how to go on
    tried = "\n".join(f"  {line}" for line in failures) or say("  (no mirror was tried)", "  （没有试过任何镜像）")
    names = "\n".join(f"  {name}.gz" for name in FILES)
    what = "MNIST" if len(missing) == len(FILES) else ", ".join(missing)
    advice = "".join(f"\n{hint}" for hint in hints)
    return say(
        f"Could not download {what}. Tried:\n{tried}\n"
        f"Put the four files (.gz, or uncompressed without .gz) by hand into\n  {data_dir}\n"
        f"named:\n{names}\n"
        "then run again; they are checked by SHA-256, so any copy of the official files works.\n"
        "Or try another mirror: --mirror URL (a base URL serving those four files, or a folder holding them), "
        f"or set {MIRROR_VARIABLE}.{advice}",
        f"没能下载 {what}。试过：\n{tried}\n"
        f"请手动把这四个文件（.gz，或者解压后不带 .gz 的）放到\n  {data_dir}\n"
        f"文件名是：\n{names}\n"
        "然后再运行；程序会用 SHA-256 校验，所以官方文件的任何一份拷贝都可以。\n"
        "或者换一个镜像：--mirror URL（提供这四个文件的网址前缀，或者存放它们的文件夹），"
        f"或者设置环境变量 {MIRROR_VARIABLE}。{advice}",
    )


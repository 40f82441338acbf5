"""The data stage: download from mirrors on loopback, verify, load, and every way a download can go wrong.

The mirrors are real HTTP servers on 127.0.0.1 (a free port each), serving either small synthetic IDX files
(their checksums are passed to ensure_mnist) or the real MNIST in ../shared/mnist.
"""

import _thread
import contextlib
import functools
import gzip
import hashlib
import http.server
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from chapter03.common import data, download
from conftest import CHAPTER, REPO
from coursekit import files
from coursekit.errors import KitError

TIMEOUT = (5, 5)  # (connect, read) for servers that answer
STALL_TIMEOUT = (5, 0.3)  # read timeout kept short for the servers that stall
SYNTHETIC_TRAIN = data.VALIDATION_SIZE + 10  # so that load_mnist leaves 10 training images
SYNTHETIC_TEST = 7


# ---------------------------------------------------------------------------------------------------- files


def idx_bytes(array):
    """An IDX file of unsigned bytes holding array."""
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture(scope="module")
def synthetic():
    """Four small MNIST-shaped files: {"idx": name -> IDX bytes, "gz": name.gz -> gzip bytes, "sha": name -> sha}."""
    rng = np.random.default_rng(3)
    contents = {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (SYNTHETIC_TRAIN, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, SYNTHETIC_TRAIN, dtype=np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (SYNTHETIC_TEST, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(rng.integers(0, 10, SYNTHETIC_TEST, dtype=np.uint8)),
    }
    return {
        "idx": contents,
        "gz": {name + ".gz": gzip.compress(blob, compresslevel=1) for name, blob in contents.items()},
        "sha": {name: hashlib.sha256(blob).hexdigest() for name, blob in contents.items()},
    }


@pytest.fixture(scope="module")
def real_gz(shared_mnist):
    return {path.name: path.read_bytes() for path in shared_mnist.glob("*.gz")}


def final_names():
    return [name for base in data.FILES for name in (base, base + ".gz")]


def assert_only_verified_files(data_dir, checksums):
    """No file under a final name fails verification, and no temporary file is left behind."""
    for base in data.FILES:
        for path in (data_dir / base, data_dir / (base + ".gz")):
            if path.exists():
                blob = path.read_bytes()
                contents = gzip.decompress(blob) if path.suffix == ".gz" else blob
                assert hashlib.sha256(contents).hexdigest() == checksums[base], f"{path} is not verified"
    assert not list(data_dir.glob("*.part")), "a temporary download was left behind"


def assert_complete(data_dir, checksums):
    assert_only_verified_files(data_dir, checksums)
    for base in data.FILES:
        assert (data_dir / base).exists() or (data_dir / (base + ".gz")).exists(), f"{base} is missing"


# ---------------------------------------------------------------------------------------------------- mirrors


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """Serves server.files (name -> bytes); server.mode says how to misbehave."""

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("User-Agent")))
        body = server.files.get(self.path.lstrip("/"))
        mode = server.mode
        if body is None or mode == "404":
            return self.send_error(404)
        if mode == "500":
            return self.send_error(500)
        if mode == "stall_before_headers":
            server.stop.wait(10)
            return
        if mode == "wrong_bytes":  # a valid gzip of a file one bit off
            contents = gzip.decompress(body)
            body = gzip.compress(contents[:-1] + bytes([contents[-1] ^ 1]))
        if mode == "html_page":
            body = b"<html><body>Please log in to use this network</body></html>"
        self.send_response(200)
        if mode == "gzip_label":  # the .gz bytes, labelled as if the server had compressed them on the way
            self.send_header("Content-Encoding", "gzip")
        if mode == "gzip_again":  # a server compressing the .gz a second time on the way
            body = gzip.compress(body)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.send_body(body, mode)
        except OSError:  # the client hung up (after Ctrl-C or a timeout)
            pass

    def send_body(self, body, mode):
        half = len(body) // 2
        if mode == "truncated":
            self.wfile.write(body[:half])  # then close: fewer bytes than Content-Length
        elif mode == "stall_mid_body":
            self.wfile.write(body[:half])
            self.wfile.flush()
            self.server.stop.wait(10)
        elif mode == "ctrl_c":
            self.wfile.write(body[:1000])
            self.wfile.flush()
            _thread.interrupt_main()  # as if the user pressed Ctrl-C in the middle of the download
            for start in range(1000, len(body), 1000):  # keep the client busy so it notices promptly
                if self.server.stop.wait(0.02):
                    return
                self.wfile.write(body[start : start + 1000])
                self.wfile.flush()
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass  # keep the test output clean


@pytest.fixture
def start_mirror():
    """start_mirror(files, mode="ok") -> a running server; its base URL is server.url. All stop at teardown."""
    servers = []

    def start(files, mode="ok"):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
        server.files, server.mode, server.requests, server.stop = files, mode, [], threading.Event()
        server.url = f"http://127.0.0.1:{server.server_address[1]}/mnist/"
        server.files = {"mnist/" + name: blob for name, blob in files.items()}
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_mirror():
    """The URL of a port nothing listens on: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture(autouse=True)
def offline_and_quick(monkeypatch):
    """Loopback must not go through a proxy; MNIST_MIRROR is the tests' to set; no pause between retries."""
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv(download.MIRROR_VARIABLE, raising=False)
    monkeypatch.setattr(download, "RETRY_DELAYS", (0, 0))


def requests_for(server, name):
    return [path for path, _ in server.requests if path.endswith("/" + name)]


# ---------------------------------------------------------------------------------------------------- downloads


def test_fresh_download_of_real_mnist_then_load(tmp_path, start_mirror, real_gz):
    server = start_mirror(real_gz)
    data.ensure_mnist(tmp_path / "data", [server.url], timeout=TIMEOUT)
    assert_complete(tmp_path / "data", data.PUBLISHED_SHA256)
    assert {agent for _, agent in server.requests} == {"mnist-course-kit/1.0"}

    mnist = data.load_mnist(tmp_path / "data")
    assert mnist.train_images.shape == (55000, 784) and mnist.train_images.dtype == np.uint8
    assert mnist.val_images.shape == (5000, 784) and mnist.test_images.shape == (10000, 784)
    assert mnist.train_labels.shape == (55000,) and mnist.train_labels.dtype == np.int64
    assert mnist.val_labels.shape == (5000,) and mnist.test_labels.shape == (10000,)
    assert set(np.unique(mnist.test_labels)) == set(range(10))
    assert mnist.train_labels[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first digits of MNIST
    assert mnist.train_images.max() == 255


def test_fresh_download_then_a_quiet_later_run(tmp_path, start_mirror, synthetic, dead_mirror, capsys):
    server = start_mirror(synthetic["gz"])
    data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])
    assert len(server.requests) == 4
    assert len(capsys.readouterr().err.splitlines()) == 4  # one line per file when stderr is not a terminal

    data.ensure_mnist(tmp_path, [dead_mirror], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert len(server.requests) == 4, "a verified set is not downloaded again"
    assert capsys.readouterr().err == ""


def test_dead_first_mirror_then_a_good_one(tmp_path, start_mirror, synthetic, dead_mirror):
    server = start_mirror(synthetic["gz"])
    data.ensure_mnist(tmp_path, [dead_mirror, server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])


@pytest.mark.parametrize("mode", ["truncated", "wrong_bytes", "html_page", "404", "500"])
def test_a_bad_mirror_is_skipped_for_the_next(tmp_path, start_mirror, synthetic, mode):
    bad = start_mirror(synthetic["gz"], mode)
    good = start_mirror(synthetic["gz"])
    data.ensure_mnist(tmp_path, [bad.url, good.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])


@pytest.mark.parametrize(
    "mode, reason, attempts",
    [
        ("truncated", "download cut short", 3),
        ("404", "HTTP 404", 1),
        ("500", "HTTP 500", 3),
        ("wrong_bytes", "its contents differ", 1),
        ("html_page", "not an MNIST file", 1),
    ],
)
def test_a_failing_mirror_is_explained(tmp_path, start_mirror, synthetic, mode, reason, attempts):
    server = start_mirror(synthetic["gz"], mode)
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert f"{server.url}train-images-idx3-ubyte.gz: {reason}" in str(failure.value)
    assert len(requests_for(server, "train-images-idx3-ubyte.gz")) == attempts  # only passing troubles are retried
    assert_only_verified_files(tmp_path, synthetic["sha"])
    assert not any((tmp_path / name).exists() for name in final_names())


@pytest.mark.parametrize("mode", ["stall_before_headers", "stall_mid_body"])
def test_a_stalled_server_times_out(tmp_path, start_mirror, synthetic, mode):
    server = start_mirror(synthetic["gz"], mode)
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(tmp_path, [server.url], timeout=STALL_TIMEOUT, checksums=synthetic["sha"])
    assert "0.3 s" in str(failure.value)
    assert_only_verified_files(tmp_path, synthetic["sha"])
    assert not any((tmp_path / name).exists() for name in final_names())


@pytest.mark.parametrize("mode", ["gzip_label", "gzip_again"])
def test_a_server_adding_content_encoding_gzip(tmp_path, start_mirror, synthetic, mode):
    server = start_mirror(synthetic["gz"], mode)
    data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_only_verified_files(tmp_path, synthetic["sha"])
    mnist = data.load_mnist(tmp_path, checksums=synthetic["sha"])
    assert mnist.test_images.tobytes() == synthetic["idx"]["t10k-images-idx3-ubyte"][16:]


def test_nothing_reachable_says_what_to_do(tmp_path, dead_mirror, start_mirror, synthetic):
    broken = start_mirror(synthetic["gz"], "404")
    data_dir = tmp_path / "my data"
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(data_dir, [dead_mirror, broken.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    message = str(failure.value)
    assert f"{dead_mirror}train-images-idx3-ubyte.gz: cannot connect" in message
    assert f"{broken.url}t10k-labels-idx1-ubyte.gz: HTTP 404" in message
    assert f"\n  {data_dir.resolve()}\n" in message  # the exact folder, on its own line
    assert all(f"{name}.gz" in message for name in data.FILES)
    assert "--mirror" in message
    assert not any((data_dir / name).exists() for name in final_names())


@pytest.mark.parametrize("mode", ["dead", "500", "stall_before_headers"])
def test_a_mirror_that_keeps_failing_is_not_tried_again(tmp_path, dead_mirror, start_mirror, synthetic, mode):
    url = dead_mirror if mode == "dead" else start_mirror(synthetic["gz"], mode).url
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(tmp_path, [url], timeout=STALL_TIMEOUT, checksums=synthetic["sha"])
    assert str(failure.value).count(url) == 1


def test_file_mirror(tmp_path, synthetic):
    mirror = tmp_path / "mirror folder"
    mirror.mkdir()
    for name, blob in synthetic["gz"].items():
        (mirror / name).write_bytes(blob)
    missing = (tmp_path / "no such folder").as_uri()
    data.ensure_mnist(tmp_path / "data", [missing, mirror.as_uri()], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path / "data", synthetic["sha"])


def test_ctrl_c_during_a_download_leaves_no_partial_file(tmp_path, start_mirror, synthetic):
    server = start_mirror(synthetic["gz"], "ctrl_c")
    with pytest.raises(KeyboardInterrupt):
        data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
        time.sleep(5)  # the download takes over a minute, so the interrupt lands before; this only keeps it here
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------------- data folder


def test_a_corrupted_file_in_the_data_folder_is_replaced(tmp_path, start_mirror, synthetic, capsys):
    good_gz = synthetic["gz"]["train-images-idx3-ubyte.gz"]
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(good_gz[: len(good_gz) // 2])  # an interrupted copy
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"not MNIST")  # a hand-placed wrong file
    server = start_mirror(synthetic["gz"])
    data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])
    assert not (tmp_path / "train-labels-idx1-ubyte").exists()
    assert capsys.readouterr().err.count("Removed ") == 2


def test_a_file_changed_after_verification_is_checked_again(tmp_path, start_mirror, synthetic):
    server = start_mirror(synthetic["gz"])
    data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(KitError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_mnist(tmp_path, checksums=synthetic["sha"])
    data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert len(requests_for(server, "t10k-labels-idx1-ubyte.gz")) == 2
    assert_complete(tmp_path, synthetic["sha"])


def test_a_file_under_another_name_is_removed_saying_what_it_holds(tmp_path, start_mirror, synthetic, capsys):
    gz = synthetic["gz"]
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gz["train-images-idx3-ubyte.gz"])
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gz["train-images-idx3-ubyte.gz"])  # misnamed by hand
    server = start_mirror(gz)
    data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])
    assert "it holds train-images-idx3-ubyte, not t10k-images-idx3-ubyte" in capsys.readouterr().err
    assert requests_for(server, "t10k-images-idx3-ubyte.gz")  # the file it stood for is downloaded
    assert not requests_for(server, "train-images-idx3-ubyte.gz")


def test_a_download_never_touches_another_runs_temporary_file(tmp_path, start_mirror, synthetic):
    others = tmp_path / "train-images-idx3-ubyte.gz.part"  # the name every run used to write to
    others.write_bytes(b"another run's download, half done")
    server = start_mirror(synthetic["gz"])
    data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert others.read_bytes() == b"another run's download, half done"
    assert sorted(p.name for p in tmp_path.glob("*.part")) == [others.name]




@pytest.mark.skipif(os.name == "nt", reason="symbolic links need privileges on Windows")
def test_a_data_folder_that_is_a_symlink_loop_is_a_message(tmp_path, dead_mirror):
    loop = tmp_path / "data"
    loop.symlink_to(loop)
    for folder in (loop, loop / "inside"):
        with pytest.raises(KitError, match="Cannot use the data folder"):
            data.ensure_mnist(folder, [dead_mirror], timeout=TIMEOUT)
    with pytest.raises(KitError):
        data.load_mnist(loop)


def test_hand_placed_uncompressed_files(tmp_path, dead_mirror, synthetic):
    for name, blob in synthetic["idx"].items():
        (tmp_path / name).write_bytes(blob)
    data.ensure_mnist(tmp_path, [dead_mirror], timeout=TIMEOUT, checksums=synthetic["sha"])  # no download needed
    mnist = data.load_mnist(tmp_path, checksums=synthetic["sha"])
    assert mnist.train_images.shape == (10, 784) and mnist.val_images.shape == (data.VALIDATION_SIZE, 784)
    assert mnist.test_images.shape == (SYNTHETIC_TEST, 784) and mnist.test_labels.dtype == np.int64
    labels = np.frombuffer(synthetic["idx"]["train-labels-idx1-ubyte"], np.uint8, offset=8)
    assert np.array_equal(np.concatenate([mnist.train_labels, mnist.val_labels]), labels)


def test_load_without_the_files_says_how_to_get_them(tmp_path):
    with pytest.raises(KitError, match="--download_only"):
        data.load_mnist(tmp_path)


IMAGES, LABELS = "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"


@pytest.mark.parametrize("name, make_bad, expected", [
    (IMAGES, lambda blob: b"", "SHA-256 mismatch"),
    (IMAGES, lambda blob: blob[:8] + struct.pack(">II", 27, 28) + blob[16:], "SHA-256 mismatch"),
    (IMAGES, lambda blob: blob[:-1], "SHA-256 mismatch"),
    (LABELS, lambda blob: blob[:-1] + b"\x0c", "SHA-256 mismatch"),
    (LABELS, lambda blob: gzip.compress(blob)[:-10], "Cannot read"),
])
def test_a_file_damaged_after_its_check_is_named_at_load(tmp_path, synthetic, name, make_bad, expected):
    for base, blob in synthetic["idx"].items():
        (tmp_path / base).write_bytes(make_bad(blob) if base == name else blob)
    with pytest.raises(KitError, match=expected) as failure:
        data.load_mnist(tmp_path, checksums=synthetic["sha"])
    assert name in str(failure.value) and "run again" in str(failure.value)


def test_load_catches_a_file_that_differs_from_the_published_one(tmp_path, synthetic):
    for base, blob in synthetic["idx"].items():
        (tmp_path / base).write_bytes(blob)
    with pytest.raises(KitError, match="train-images-idx3-ubyte.*SHA-256"):
        data.load_mnist(tmp_path)  # the published checksums: synthetic files do not match them


# ---------------------------------------------------------------------------------------------------- mirror list


def test_mirror_order_command_line_then_variable_then_builtin(monkeypatch):
    monkeypatch.setenv(download.MIRROR_VARIABLE, " http://b.example/mnist/  file:///srv/mnist/ ")
    mirrors = download.mirror_list(["https://a.example/m/", download.BUILTIN_MIRRORS[1]])
    assert mirrors == [
        "https://a.example/m/",
        download.BUILTIN_MIRRORS[1],
        "http://b.example/mnist/",
        "file:///srv/mnist/",
        download.BUILTIN_MIRRORS[0],
    ]
    assert download.BUILTIN_MIRRORS[:2] == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ]
    monkeypatch.delenv(download.MIRROR_VARIABLE)
    assert download.mirror_list(None) == download.BUILTIN_MIRRORS


@pytest.mark.parametrize("bad", ["ftp://example.org/mnist/", "example.org/mnist", "http:///mnist/", "http://[::1"])
def test_a_bad_mirror_url_is_named(monkeypatch, bad):
    with pytest.raises(KitError, match=re.escape(f"{bad!r} (from --mirror)")):
        download.check_mirror_urls([bad], "--mirror")  # by cli.py, as the flags are read
    monkeypatch.setenv(download.MIRROR_VARIABLE, bad)
    with pytest.raises(KitError, match=re.escape(f"{bad!r} (from {download.MIRROR_VARIABLE})")):
        download.mirror_list([])


def test_the_variable_mnist_mirror_is_used_for_downloads(tmp_path, monkeypatch, start_mirror, synthetic, dead_mirror):
    server = start_mirror(synthetic["gz"])
    monkeypatch.setenv(download.MIRROR_VARIABLE, f"{dead_mirror} {server.url}")
    mirrors = download.mirror_list([])
    data.ensure_mnist(tmp_path, mirrors, timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])


# ---------------------------------------------------------------------------------------------------- main.py


def run_main(*args, proxy=None):
    """main.py --download_only; proxy (a URL) replaces every proxy setting, to keep the built-in mirrors offline."""
    env = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    env.pop(download.MIRROR_VARIABLE, None)
    if proxy:
        env.update(HTTP_PROXY=proxy, HTTPS_PROXY=proxy)
    else:
        env.update(NO_PROXY="127.0.0.1,localhost")
    command = [sys.executable, str(CHAPTER / "solution" / "main.py"), "--download_only", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)


def test_main_download_only(tmp_path, start_mirror, real_gz, dead_mirror):
    server = start_mirror(real_gz)
    done = run_main("--data_dir", str(tmp_path / "data"), "--mirror", dead_mirror, "--mirror", server.url)
    assert done.returncode == 0, done.stderr
    assert_complete(tmp_path / "data", data.PUBLISHED_SHA256)
    assert str(tmp_path / "data") in done.stdout + done.stderr

    # Nothing reachable: a dead proxy keeps the built-in mirrors out of reach, even on a machine with internet.
    failed = run_main("--data_dir", str(tmp_path / "empty"), "--mirror", dead_mirror, proxy=dead_mirror)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert str(tmp_path / "empty") in failed.stdout + failed.stderr
    assert "--mirror" in failed.stdout + failed.stderr


# ---------------------------------------------------------------------------------------------------- networks


@pytest.fixture
def https_mirror(tmp_path, synthetic):
    """A mirror over HTTPS on 127.0.0.1 with a self-signed certificate, as a proxy that inspects TLS presents one:
    (its base URL, the certificate's file)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command makes the test's certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                           "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                           str(cert)], capture_output=True, text=True, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"this openssl cannot make the test's certificate: {made.stderr.strip()[-200:]}")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    server.files, server.mode, server.requests, server.stop = synthetic["gz"], "ok", [], threading.Event()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/", cert
    server.shutdown()
    server.server_close()


def test_a_certificate_the_kit_does_not_trust_is_named_with_the_remedy(tmp_path, https_mirror, synthetic,
                                                                       monkeypatch):
    url, cert = https_mirror
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(tmp_path, [url], timeout=TIMEOUT, checksums=synthetic["sha"])
    message = str(failure.value)
    assert "TLS/SSL error: certificate verify failed: self" in message  # "self-signed certificate", OpenSSL's words
    assert "REQUESTS_CA_BUNDLE=path/to/company-ca.pem" in message and "pip install truststore" in message
    assert message.count("REQUESTS_CA_BUNDLE") == 1  # the remedy once, not once per file
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # the remedy works
    data.ensure_mnist(tmp_path, [url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])


def test_truststore_is_used_when_installed(tmp_path, monkeypatch, synthetic):
    injected = []
    monkeypatch.setitem(sys.modules, "truststore", types.SimpleNamespace(inject_into_ssl=lambda: injected.append(1)))
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, blob in synthetic["gz"].items():
        (mirror / name).write_bytes(blob)
    data.ensure_mnist(tmp_path / "data", [str(mirror)], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert injected == [1]


def socks5_proxy(used):
    """A SOCKS5 proxy on 127.0.0.1 (no authentication, CONNECT only) relaying to the address asked; returns its port.
    `used` gets the address of each connection relayed."""
    listener = socket.create_server(("127.0.0.1", 0))

    def relay(source, target):
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                target.sendall(chunk)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def serve_one(client):
        client.recv(257)  # version 5, the methods offered
        client.sendall(b"\x05\x00")  # no authentication
        _, _, _, kind = client.recv(4)
        host = socket.inet_ntoa(client.recv(4)) if kind == 1 else client.recv(client.recv(1)[0]).decode()
        port = struct.unpack(">H", client.recv(2))[0]
        used.append((host, port))
        upstream = socket.create_connection((host, port), timeout=5)
        client.sendall(b"\x05\x00\x00\x01" + bytes(6))
        threading.Thread(target=relay, args=(upstream, client), daemon=True).start()
        relay(client, upstream)

    def serve():
        with contextlib.suppress(OSError):
            while True:
                threading.Thread(target=serve_one, args=(listener.accept()[0],), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener


def test_a_socks_proxy_in_all_proxy_is_used(tmp_path, monkeypatch, start_mirror, synthetic):
    pytest.importorskip("socks", reason="PySocks: requirements.txt's requests[socks]")
    server, used = start_mirror(synthetic["gz"]), []
    listener = socks5_proxy(used)
    try:
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.setenv("ALL_PROXY", f"socks5://127.0.0.1:{listener.getsockname()[1]}")
        data.ensure_mnist(tmp_path, [server.url], timeout=TIMEOUT, checksums=synthetic["sha"])
    finally:
        listener.close()
    assert_complete(tmp_path, synthetic["sha"])
    assert len(used) >= 1 and used[0][0] == "127.0.0.1"


def test_a_socks_proxy_without_pysocks_is_named(tmp_path, monkeypatch, synthetic):
    def no_socks(*args, **kwargs):
        raise download.requests.exceptions.InvalidSchema("Missing dependencies for SOCKS support.")

    monkeypatch.setattr(download.requests.Session, "get", no_socks)
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(tmp_path, ["https://example.org/mnist/"], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert "request failed (InvalidSchema: Missing dependencies for SOCKS support.)" in str(failure.value)


@pytest.mark.parametrize("os_name, mirror, folder", [
    ("nt", "file://server/share/mnist/", r"\\server\share\mnist"),  # Path.as_uri() of a shared folder
    ("nt", "file:///C:/data/mnist/", r"C:\data\mnist"),
    ("nt", r"C:\data\mnist", r"C:\data\mnist"),
    ("nt", "C:/data/mnist", "C:/data/mnist"),
    ("nt", r"\\server\share\mnist", r"\\server\share\mnist"),
    ("posix", "file:///srv/my%20mnist/", "/srv/my mnist"),
    ("posix", "file://localhost/srv/mnist", "/srv/mnist"),
    ("posix", "https://example.org/mnist/", None),
])
def test_file_urls_drive_and_shared_folders_as_mirrors(monkeypatch, os_name, mirror, folder):
    monkeypatch.setattr(download, "os", types.SimpleNamespace(name=os_name, environ=os.environ))  # this module only
    found = download.local_folder(mirror)
    assert (found and str(found)) == (folder and str(Path(folder)))
    download.check_mirror_urls([mirror], "--mirror")


def test_a_plain_folder_is_a_mirror(tmp_path, monkeypatch, synthetic):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, blob in synthetic["gz"].items():
        (mirror / name).write_bytes(blob)
    monkeypatch.chdir(tmp_path)
    assert download.mirror_list(["mirror"])[0] == "mirror"
    data.ensure_mnist(tmp_path / "data", ["mirror"], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path / "data", synthetic["sha"])


def refusing_replace(monkeypatch, times):
    """os.replace refused `times` times (PermissionError, as Windows refuses a file antivirus holds open), then real."""
    real, refusals = os.replace, iter(range(times))

    def replace(source, target):
        if next(refusals, None) is not None:
            raise PermissionError(13, "Access is denied")
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)


def test_a_replace_refused_twice_then_allowed_finishes(tmp_path, monkeypatch, start_mirror, synthetic):
    refusing_replace(monkeypatch, 2)
    data.ensure_mnist(tmp_path, [start_mirror(synthetic["gz"]).url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert_complete(tmp_path, synthetic["sha"])


def test_a_replace_refused_for_good_is_one_message(tmp_path, monkeypatch, start_mirror, synthetic):
    refusing_replace(monkeypatch, 10**6)
    monkeypatch.setattr(download, "replace_file", functools.partial(files.replace_file, retry_seconds=0.2))
    with pytest.raises(KitError) as failure:
        data.ensure_mnist(tmp_path, [start_mirror(synthetic["gz"]).url], timeout=TIMEOUT, checksums=synthetic["sha"])
    assert "Could not put" in str(failure.value) and "OneDrive" in str(failure.value)
    assert "Access is denied" in str(failure.value) and "run again" in str(failure.value)
    assert_only_verified_files(tmp_path, synthetic["sha"])

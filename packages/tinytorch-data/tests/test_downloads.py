"""MNIST / CIFAR-10 downloads against a loopback HTTP server (never the internet).

The tests generate small files in the real formats (gzip IDX for MNIST, a
tar.gz of pickled batches for CIFAR-10), serve them from 127.0.0.1 and pass
their own checksum table.
"""

import gzip
import hashlib
import http.server
import io
import os
import pickle
import socket
import struct
import tarfile
import threading

import numpy as np
import pytest

from tinytorch.data import CIFAR10, MNIST, DataLoader, ToTensor
from tinytorch.data.datasets import ChecksumError, DatasetNotFoundError, DownloadError
from tinytorch.data.datasets.cifar import read_cifar_batches
from tinytorch.data.datasets.mnist import read_idx

RNG = np.random.default_rng(0)


# ------------------------------------------------------------ file builders
def idx_gz(arr: np.ndarray) -> bytes:
    magic = (0x08 << 8) | arr.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def make_mnist(n_train=12, n_test=5):
    arrays = {
        "train": (
            RNG.integers(0, 256, (n_train, 28, 28)).astype(np.uint8),
            RNG.integers(0, 10, n_train).astype(np.uint8),
        ),
        "test": (
            RNG.integers(0, 256, (n_test, 28, 28)).astype(np.uint8),
            RNG.integers(0, 10, n_test).astype(np.uint8),
        ),
    }
    files = {
        "train-images-idx3-ubyte.gz": idx_gz(arrays["train"][0]),
        "train-labels-idx1-ubyte.gz": idx_gz(arrays["train"][1]),
        "t10k-images-idx3-ubyte.gz": idx_gz(arrays["test"][0]),
        "t10k-labels-idx1-ubyte.gz": idx_gz(arrays["test"][1]),
    }
    return arrays, files


def make_cifar(per_batch=4):
    names = [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]
    batches = {}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:

        def add(name, obj, protocol):
            payload = pickle.dumps(obj, protocol=protocol)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        add("batches.meta", {b"label_names": [b"c%d" % k for k in range(10)]}, 2)
        for k, name in enumerate(names):
            data = RNG.integers(0, 256, (per_batch, 3072)).astype(np.uint8)
            labels = RNG.integers(0, 10, per_batch).tolist()
            batches[name] = (data, labels)
            # bytes keys like the original Python 2 pickles; mixed protocols
            add(
                name,
                {
                    b"batch_label": b"batch %d" % k,
                    b"data": data,
                    b"labels": labels,
                    b"filenames": [b"f.png"] * per_batch,
                },
                2 if k % 2 else 5,
            )
        add("readme.html", {"ignored": True}, 2)
    return batches, {"cifar-10-python.tar.gz": buf.getvalue()}


def sha256_table(files):
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def cifar_hwc(data):
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


# ------------------------------------------------------------------ server
class LoopbackServer:
    """Serves ``files`` by name; ``truncate`` names get half their bytes then a hang-up."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.requests: list[str] = []
        state = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.rsplit("/", 1)[-1]
                state.requests.append(self.path)
                body = state.files.get(name)
                if body is None:
                    self.send_error(404, "no such file")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if name in state.truncate:
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                else:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def file_requests(self, name):
        return sum(p.endswith("/" + name) for p in self.requests)


@pytest.fixture(autouse=True)
def no_proxy_no_mirror(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("TINYTORCH_DATA_MIRROR", raising=False)


@pytest.fixture
def server():
    srv = LoopbackServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


@pytest.fixture
def dead_url():
    """A loopback URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/data"


def leftovers(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# ------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("train", [True, False])
def test_mnist_download_parse_and_cache(server, tmp_path, train):
    arrays, files = make_mnist()
    server.files.update(files)
    table = sha256_table(files)
    ds = MNIST(tmp_path, train=train, download=True, mirrors=server.url, checksums=table, timeout=5)
    images, labels = arrays["train" if train else "test"]
    np.testing.assert_array_equal(ds.data, images)
    np.testing.assert_array_equal(ds.targets, labels)
    assert ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
    img, label = ds[1]
    assert img.shape == (28, 28) and label == int(labels[1]) and isinstance(label, int)
    assert len(server.requests) == 2
    raw = tmp_path / "MNIST" / "raw"
    wanted = sorted(n for n in files if n.startswith("train" if train else "t10k"))
    assert leftovers(raw) == wanted  # no .part files

    # Second load: cached, verified, no request at all (download=True or False).
    again = MNIST(tmp_path, train=train, download=True, mirrors=server.url, checksums=table)
    MNIST(tmp_path, train=train, download=False, checksums=table)
    np.testing.assert_array_equal(again.data, images)
    assert len(server.requests) == 2


def test_mnist_md5_checksums_and_dict_entries(server, tmp_path):
    _, files = make_mnist()
    server.files.update(files)
    table = {n: hashlib.md5(b).hexdigest() for n, b in files.items()}
    table["train-images-idx3-ubyte.gz"] = {
        "sha256": hashlib.sha256(files["train-images-idx3-ubyte.gz"]).hexdigest(),
        "md5": hashlib.md5(files["train-images-idx3-ubyte.gz"]).hexdigest(),
    }
    ds = MNIST(tmp_path, download=True, mirrors=[server.url], checksums=table, timeout=5)
    assert len(ds) == 12


def test_mnist_wrong_checksum_raises_and_leaves_nothing(server, tmp_path):
    _, files = make_mnist()
    server.files.update(files)
    table = sha256_table(files)
    table["train-labels-idx1-ubyte.gz"] = "0" * 64
    with pytest.raises(ChecksumError, match="train-labels-idx1-ubyte.gz") as info:
        MNIST(tmp_path, download=True, mirrors=server.url, checksums=table, timeout=5)
    assert "0" * 64 in str(info.value)
    raw = tmp_path / "MNIST" / "raw"
    # the images file (valid) may stay; the bad labels file and any temp file must not
    assert leftovers(raw) == ["train-images-idx3-ubyte.gz"]


def test_mnist_offline_connection_refused(dead_url, tmp_path):
    _, files = make_mnist()
    with pytest.raises(DownloadError) as info:
        MNIST(tmp_path, download=True, mirrors=dead_url, checksums=sha256_table(files), timeout=5)
    msg = str(info.value)
    assert f"{dead_url}/train-images-idx3-ubyte.gz" in msg
    assert "refused" in msg.lower()
    assert info.value.__context__ is None and info.value.__cause__ is None  # no urllib traceback
    assert leftovers(tmp_path / "MNIST" / "raw") == []


def test_mnist_server_down_after_shutdown(tmp_path):
    srv = LoopbackServer()
    srv.thread.start()
    url = srv.url
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)
    _, files = make_mnist()
    with pytest.raises(DownloadError, match="could not download"):
        MNIST(tmp_path, download=True, mirrors=url, checksums=sha256_table(files), timeout=5)


def test_mnist_missing_files_without_download(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(tmp_path, train=False, download=False)
    msg = str(info.value)
    assert "download=True" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert isinstance(info.value, FileNotFoundError)


def test_mnist_http_404_and_fallback_mirror(server, dead_url, tmp_path):
    _, files = make_mnist()
    table = sha256_table(files)
    with pytest.raises(DownloadError, match="HTTP 404"):
        MNIST(tmp_path, download=True, mirrors=server.url, checksums=table, timeout=5)
    server.files.update(files)
    ds = MNIST(tmp_path, download=True, mirrors=[dead_url, server.url], checksums=table, timeout=5)
    assert len(ds) == 12


def test_mnist_truncated_download_leaves_nothing(server, tmp_path):
    _, files = make_mnist()
    server.files.update(files)
    server.truncate.add("train-images-idx3-ubyte.gz")
    with pytest.raises(DownloadError, match="connection closed after"):
        MNIST(tmp_path, download=True, mirrors=server.url, checksums=sha256_table(files), timeout=5)
    assert leftovers(tmp_path / "MNIST" / "raw") == []


def test_mirror_from_environment_variable(server, tmp_path, monkeypatch):
    _, files = make_mnist()
    server.files.update(files)
    monkeypatch.setenv("TINYTORCH_DATA_MIRROR", server.url + "/")
    ds = MNIST(tmp_path, download=True, checksums=sha256_table(files), timeout=5)
    assert len(ds) == 12
    assert server.file_requests("train-images-idx3-ubyte.gz") == 1


def test_corrupted_cache_is_reported_or_replaced(server, tmp_path):
    _, files = make_mnist()
    server.files.update(files)
    table = sha256_table(files)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not the file")
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(files["train-labels-idx1-ubyte.gz"])
    with pytest.raises(ChecksumError, match="Delete it and pass download=True"):
        MNIST(tmp_path, download=False, checksums=table)
    ds = MNIST(tmp_path, download=True, mirrors=server.url, checksums=table, timeout=5)
    assert len(ds) == 12
    assert server.requests == ["/data/train-images-idx3-ubyte.gz"]


def test_missing_checksum_entry_refuses(server, tmp_path):
    _, files = make_mnist()
    table = sha256_table(files)
    del table["train-labels-idx1-ubyte.gz"]
    with pytest.raises(ValueError, match="no checksum"):
        MNIST(tmp_path, download=True, mirrors=server.url, checksums=table)
    assert server.requests == []


@pytest.mark.parametrize(
    "mirrors, exc", [("ftp://x/y", ValueError), ([], ValueError), ([3], TypeError)]
)
def test_bad_mirrors(tmp_path, mirrors, exc):
    with pytest.raises(exc):
        MNIST(tmp_path, download=True, mirrors=mirrors)


def test_mnist_transform_and_loader(server, tmp_path):
    arrays, files = make_mnist()
    server.files.update(files)
    table = sha256_table(files)
    plain = MNIST(tmp_path, download=True, mirrors=server.url, checksums=table, timeout=5)
    xb, yb = next(iter(DataLoader(plain, batch_size=5)))
    assert xb.shape == (5, 28, 28) and xb.dtype == np.uint8 and yb.dtype == np.int64
    tf = MNIST(tmp_path, transform=ToTensor(), checksums=table)
    assert tf.get_batch(np.arange(2)) is None
    xb, yb = next(iter(DataLoader(tf, batch_size=5)))
    assert xb.shape == (5, 1, 28, 28) and xb.dtype == np.float32
    np.testing.assert_allclose(xb.data[:, 0], arrays["train"][0][:5] / np.float32(255))


@pytest.mark.parametrize(
    "payload, match",
    [
        (
            gzip.compress(struct.pack(">II", 0x0801, 1) + b"\x05"),
            "magic number 0x00000801, expected 0x00000803",
        ),
        (gzip.compress(struct.pack(">IIII", 0x0803, 2, 2, 2) + b"\x00" * 7), "payload has 7 bytes"),
        (b"plain bytes, not gzip", "not a readable gzip"),
        (gzip.compress(b"\x00\x00"), "too short"),
        (gzip.compress(struct.pack(">II", 0x0803, 2)), "too short"),
    ],
    ids=["labels-magic", "short-payload", "not-gzip", "tiny", "header-cut"],
)
def test_read_idx_rejects_malformed_files(tmp_path, payload, match):
    path = tmp_path / "f.gz"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=match):
        read_idx(path, ndim=3)


# ---------------------------------------------------------------- CIFAR-10
@pytest.mark.parametrize("train", [True, False])
def test_cifar10_download_parse_and_cache(server, tmp_path, train):
    batches, files = make_cifar()
    server.files.update(files)
    table = sha256_table(files)
    ds = CIFAR10(
        tmp_path, train=train, download=True, mirrors=server.url, checksums=table, timeout=5
    )
    names = [f"data_batch_{k}" for k in range(1, 6)] if train else ["test_batch"]
    data = np.concatenate([batches[n][0] for n in names])
    labels = np.concatenate([batches[n][1] for n in names])
    assert ds.data.shape == (len(labels), 32, 32, 3) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data, cifar_hwc(data))
    np.testing.assert_array_equal(ds.targets, labels)
    assert ds.targets.dtype == np.int64
    assert ds.classes == [f"c{k}" for k in range(10)]
    # pixel (row 0, col 1) of image 0: red, green, blue planes at offsets 1, 1025, 2049
    assert ds.data[0, 0, 1].tolist() == [data[0, 1], data[0, 1025], data[0, 2049]]
    assert leftovers(tmp_path) == ["cifar-10-python.tar.gz"]
    CIFAR10(tmp_path, train=train, download=True, mirrors=server.url, checksums=table)
    assert server.file_requests("cifar-10-python.tar.gz") == 1


def test_cifar10_wrong_checksum_and_offline(server, dead_url, tmp_path):
    _, files = make_cifar()
    server.files.update(files)
    with pytest.raises(ChecksumError):
        CIFAR10(
            tmp_path,
            download=True,
            mirrors=server.url,
            checksums={"cifar-10-python.tar.gz": "f" * 32},
            timeout=5,
        )
    assert leftovers(tmp_path) == []
    with pytest.raises(DownloadError, match="cifar-10-python.tar.gz"):
        CIFAR10(tmp_path, download=True, mirrors=dead_url, checksums=sha256_table(files), timeout=5)
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        CIFAR10(tmp_path)


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())


def test_cifar_unpickler_refuses_foreign_globals(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        payload = pickle.dumps({"data": _Evil(), "labels": []})
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    path = tmp_path / "evil.tar.gz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(
        ValueError, match="refusing to load posix.getcwd|refusing to load os.getcwd"
    ):
        read_cifar_batches(path, ["test_batch"])


def test_cifar_missing_batch_and_bad_archive(tmp_path):
    batches, files = make_cifar()
    path = tmp_path / "c.tar.gz"
    path.write_bytes(files["cifar-10-python.tar.gz"])
    with pytest.raises(ValueError, match="lacks cifar-10-batches-py/data_batch_9"):
        read_cifar_batches(path, ["data_batch_1", "data_batch_9"])
    path.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable CIFAR-10"):
        read_cifar_batches(path, ["test_batch"])


# ------------------------------------------------------- one constructor
def test_mnist_and_cifar_share_one_downloading_constructor():
    from tinytorch.data.datasets import DownloadedImageDataset

    for cls in (MNIST, CIFAR10):
        assert issubclass(cls, DownloadedImageDataset)
        assert "__init__" not in vars(cls)  # the download logic exists once


def test_a_new_downloaded_dataset_needs_only_its_files_and_parser(server, tmp_path):
    from tinytorch.data.datasets import DownloadedImageDataset

    images = RNG.integers(0, 256, (3, 4, 4)).astype(np.uint8)
    buf = io.BytesIO()
    np.save(buf, images)
    server.files = {"tiny.npy": buf.getvalue()}

    class Tiny(DownloadedImageDataset):
        NAME = "Tiny"
        MIRRORS = ("http://127.0.0.1:9/unused",)
        CHECKSUMS = sha256_table(server.files)

        @classmethod
        def files(cls, train):
            return ["tiny.npy"]

        def parse(self, paths):
            self.data = np.load(paths[0])
            self.targets = np.arange(len(self.data), dtype=np.int64)

    with pytest.raises(DatasetNotFoundError, match="Tiny files not found"):
        Tiny(tmp_path)
    ds = Tiny(tmp_path, download=True, mirrors=server.url, timeout=5)
    np.testing.assert_array_equal(ds.data, images)
    assert ds[2][1] == 2 and leftovers(tmp_path) == ["tiny.npy"]
    assert Tiny(tmp_path).data.shape == (3, 4, 4)  # cached: no second request
    assert server.file_requests("tiny.npy") == 1

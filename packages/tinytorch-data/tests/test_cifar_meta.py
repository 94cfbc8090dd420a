"""Malformed CIFAR-10 metadata (batches.meta) is a ValueError that names
the archive member, never a TypeError or AttributeError."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np
import pytest

from tinytorch.data.datasets.cifar import read_cifar_batches


def archive(tmp_path, meta_payload: bytes):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, payload):
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

        add("batches.meta", meta_payload)
        data = np.zeros((2, 3072), np.uint8)
        add("test_batch", pickle.dumps({b"data": data, b"labels": [0, 1]}, protocol=2))
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(buf.getvalue())
    return path


def dumps(obj):
    return pickle.dumps(obj, protocol=2)


@pytest.mark.parametrize("payload", [
    dumps([1, 2, 3]),                                        # not a dict
    dumps({b"label_names": 7}),                              # was TypeError (int not iterable)
    dumps({b"label_names": [b"a", b"b"]}),                   # not ten names
    dumps({b"label_names": [1] * 10}),                       # not strings
    dumps({b"label_names": [b"\xff"] * 10}),                 # not UTF-8
    dumps({"label_names": {"a": 1}}),
    b"",                                                     # empty
    b"\x80\x02}q\x00(",                                      # truncated pickle
    b"not a pickle at all",
])
def test_bad_metadata_is_a_value_error(tmp_path, payload):
    path = archive(tmp_path, payload)
    with pytest.raises(ValueError, match="batches.meta"):
        read_cifar_batches(path, ["test_batch"])


def test_good_metadata_names_the_classes(tmp_path):
    names = [f"class{k}" for k in range(10)]
    path = archive(tmp_path, dumps({b"label_names": [n.encode() for n in names]}))
    images, labels, classes = read_cifar_batches(path, ["test_batch"])
    assert classes == names and images.shape == (2, 32, 32, 3)


def test_metadata_without_names_keeps_the_standard_ten(tmp_path):
    path = archive(tmp_path, dumps({b"num_cases_per_batch": 10000}))
    _, _, classes = read_cifar_batches(path, ["test_batch"])
    assert len(classes) == 10 and classes[0] == "airplane"

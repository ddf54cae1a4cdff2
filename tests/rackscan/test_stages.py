"""A stage's fingerprint follows what its code loads, not only its Python sources."""

import sys

import pytest

from rackscan.stages import code_digest, fingerprint


@pytest.fixture
def package(tmp_path, monkeypatch):
    pkg = tmp_path / "pkg_under_test"
    (pkg / "core").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "core" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield pkg
    sys.modules.pop("pkg_under_test", None)


@pytest.mark.parametrize("name, text, changes", [
    ("core/model.py", "X = 1\n", True),
    ("core/confidence_model.json", '{"w": [1.0]}\n', True),  # a fitted model shipped beside the code
    ("profiles/warehouse.yaml", "a: 1\n", True),
    ("notes.txt", "not loaded\n", False),
    ("core/__pycache__/model.cpython-311.pyc", "bytes", False),
])
def test_code_digest_follows_shipped_data(package, name, text, changes):
    before = code_digest("pkg_under_test")
    path = package / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    assert (code_digest("pkg_under_test") != before) is changes


def test_fingerprint_follows_input_files(tmp_path):
    f = tmp_path / "catalogue.csv"
    f.write_text("sku\nA\n")
    a = fingerprint("fuse", files=[f])
    f.write_text("sku\nA\nB\n")
    assert fingerprint("fuse", files=[f]) != a
    f.unlink()
    assert fingerprint("fuse", files=[f]) not in (a,)

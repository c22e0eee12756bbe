"""Repository-wide pytest set-up: lessons run in quick mode (tiny data and steps, same code
path), and no test run leaves files in the system's temporary folder."""
import os
import shutil
import tempfile

import pytest
from _pytest.doctest import DoctestItem

os.environ.setdefault("COLORLAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    """Child processes (the lessons' kernels, CLI runs) keep their temporary files in one folder
    that is removed when the run ends: nbval kills each kernel, so a lesson's
    ``TemporaryDirectory`` never gets to clean up after itself."""
    tempfile.gettempdir()  # fixed now for this process: pytest's own tmp_path stays where it was
    folder = tempfile.mkdtemp(prefix="colorlab-test-run-")
    os.environ["TMPDIR"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.fixture(autouse=True)
def _doctest_files_in_pytest_tmp(request, monkeypatch):
    """Docstring examples write their files under ``tempfile.mkdtemp()``: point that at the
    example's own ``tmp_path``, which pytest prunes."""
    if isinstance(request.node, DoctestItem):
        monkeypatch.setattr(tempfile, "tempdir", str(request.getfixturevalue("tmp_path")))

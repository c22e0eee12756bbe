"""Repository-wide pytest set-up: lessons run in quick mode (tiny data and steps, same code
path), and no test run leaves files in the system's temporary folder."""
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("COLORLAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config):
    """Temporary files of the whole run go to one folder, removed when the run ends.

    Child processes (the lessons' kernels, CLI runs) find it in ``TMPDIR``: nbval kills each
    kernel, so a lesson's ``TemporaryDirectory`` never gets to clean up after itself.
    """
    tempfile.gettempdir()  # fixed now for this process; the fixture below redirects each test
    folder = tempfile.mkdtemp(prefix="colorlab-test-run-")
    os.environ["TMPDIR"] = folder
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))


@pytest.fixture(autouse=True)
def _temporary_files_in_the_run_folder(tmp_path_factory, monkeypatch):
    """Tests and docstring examples (also those run through ``doctest.testmod``) that write
    under ``tempfile.mkdtemp()`` write into the run's folder too; pytest's own ``tmp_path``
    folders stay where pytest keeps them."""
    tmp_path_factory.getbasetemp()  # settled before tempfile is redirected
    monkeypatch.setattr(tempfile, "tempdir", os.environ["TMPDIR"])

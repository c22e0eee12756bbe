"""Repository-wide pytest set-up: lessons run in quick mode (tiny data and steps, same code
path), every lesson cell counts as a slow test (``pytest -m "not slow"`` leaves them out), and no
test run leaves files in the system's temporary folder."""
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
    """Tests and docstring examples that write under ``tempfile.mkdtemp()`` write into the run's
    folder too; pytest's own ``tmp_path`` folders stay where pytest keeps them."""
    tmp_path_factory.getbasetemp()  # settled before tempfile is redirected
    monkeypatch.setattr(tempfile, "tempdir", os.environ["TMPDIR"])


def pytest_collection_modifyitems(config, items):
    """Mark every lesson cell (nbval's items from ``lessons/*.ipynb``) ``slow``: the ten lessons
    start a kernel each and take minutes, so the developer's fast loop, ``pytest -m "not slow"``,
    leaves them out; ``python -m pytest`` (the README's command, CI) still runs them."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)

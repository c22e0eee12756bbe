"""Every lesson's set-up cell, run as Colab runs it, installs colorlab and imports it.

Colab is stood in for by a fresh virtual environment without colorlab, where a ``google.colab``
module is put in ``sys.modules`` (Colab imports it before any cell runs) and the cell is executed
by IPython, ``%pip`` magic included. The cell's GitHub address is pointed at a local copy of this
repository (a git repository made from the checked-out files, branch ``main``), the way
``python -m colorlab.course set-repo`` points it at a fork. Torch, numpy and the other dependencies
are seen from this environment's site-packages, as Colab's preinstalled ones are, so the test also
shows that installing colorlab leaves them as they are.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from colorlab.course import BRANCH, REPO, setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))

pytestmark = pytest.mark.slow

RUNNER = textwrap.dedent('''
    import json, sys, types
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: print("widgets on"))
    google = types.ModuleType("google")
    google.colab = colab
    sys.modules.update({"google": google, "google.colab": colab})
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    before = {}
    for name in ("torch", "numpy"):
        from importlib import metadata
        before[name] = metadata.version(name)
    for path in sys.argv[1:]:
        result = shell.run_cell(open(path, encoding="utf-8").read())
        result.raise_error()
    import colorlab, colorlab.models
    from importlib import metadata
    print(json.dumps({"file": colorlab.__file__, "version": colorlab.__version__,
                      "models": list(colorlab.models.MODELS),
                      "kept": {n: metadata.version(n) == v for n, v in before.items()}}))
''')


def _setup_cell(nb_path: Path) -> str:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return next("".join(c["source"]) for c in nb["cells"]
                if c["cell_type"] == "code" and "".join(c["source"]) == setup_cell_source())


@pytest.fixture(scope="module")
def local_repo(tmp_path_factory) -> Path:
    """A git repository (branch main) holding this checkout's tracked files, as they are now."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    dest = tmp_path_factory.mktemp("repo") / "colorlab"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    for rel in filter(None, files.stdout.decode().split("\0")):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    git = ["git", "-c", "user.name=colab test", "-c", "user.email=test@example.invalid"]
    for cmd in (["init", "-q", "-b", BRANCH], ["add", "-A"], ["commit", "-q", "-m", "copy"]):
        subprocess.run([*git, *cmd], cwd=dest, check=True)
    return dest


@pytest.fixture(scope="module")
def colab_python(tmp_path_factory) -> Path:
    """A fresh venv without colorlab that sees this environment's packages (as Colab's own)."""
    env_dir = tmp_path_factory.mktemp("colab") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    python = env_dir / "bin" / "python"
    if not python.exists():
        pytest.skip("venv layout without bin/python (not Linux or macOS)")
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = subprocess.run([python, "-c", where], capture_output=True, text=True,
                          check=True).stdout.strip()
    # A path in a .pth file is put on sys.path, but the .pth files inside it are not run: so
    # torch & co. are importable, while this checkout's editable colorlab (a .pth hook) is not.
    Path(site, "preinstalled.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_every_set_up_cell_is_the_course_cell():
    assert len(LESSONS) == 10
    for nb_path in LESSONS:
        assert _setup_cell(nb_path) == setup_cell_source(), nb_path.name


def test_set_up_cells_install_and_import_colorlab_as_in_colab(local_repo, colab_python, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    probe = subprocess.run([colab_python, "-c", "import colorlab"], capture_output=True, text=True,
                           cwd=tmp_path, env=env)
    assert probe.returncode != 0, "the stand-in Colab must start without colorlab"
    cells = []
    for nb_path in LESSONS:     # every lesson's own cell, pointed at the local copy
        src = _setup_cell(nb_path)
        url = f"https://github.com/{REPO}@{BRANCH}"
        assert url in src, f"{nb_path.name}: the set-up cell does not install from {url}"
        cell = tmp_path / f"{nb_path.stem}.py"
        local = f"file://localhost{local_repo}@{BRANCH}"   # pip 23 wants a host in git+file URLs
        cell.write_text(src.replace(url, local), encoding="utf-8")
        cells.append(str(cell))
    run = subprocess.run([colab_python, "-c", RUNNER, *cells], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert run.stdout.count("widgets on") == len(LESSONS)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    installed = Path(result["file"]).resolve()
    assert not installed.is_relative_to(ROOT.resolve()), f"imported the checkout: {installed}"
    assert installed.is_relative_to(colab_python.parents[1].resolve())
    assert result["models"] == ["mse", "class", "class-rebal", "gan", "fusion"]
    assert result["kept"] == {"torch": True, "numpy": True}, "the install changed torch or numpy"

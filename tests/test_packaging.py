"""What installing colorlab gives a user: the ``colorlab`` command, one version, the shipped
files."""
import glob
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import tomllib
from PIL import Image

import colorlab
from colorlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_version_flag_prints_the_one_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"colorlab {colorlab.__version__}"
    assert "version" in PYPROJECT["project"]["dynamic"], (
        "the version lives in colorlab/__init__.py only")


def test_installed_metadata_matches_the_package_version():
    try:
        installed = metadata.version("colorlab")
    except metadata.PackageNotFoundError:
        pytest.skip("colorlab is not pip-installed here "
                    "(pip install -r requirements.txt installs it)")
    assert installed == colorlab.__version__


@pytest.mark.parametrize("pattern", PYPROJECT["tool"]["setuptools"]["package-data"]["colorlab"])
def test_every_package_data_glob_matches_shipped_files(pattern):
    assert glob.glob(str(ROOT / "colorlab" / pattern)), (
        f"package-data glob {pattern!r} matches nothing")


@pytest.mark.slow  # the installed script, in a subprocess
def test_console_script_colours_a_photo(tmp_path):
    script = Path(sys.executable).with_name("colorlab")
    if not script.exists():
        pytest.skip(f"no console script beside {sys.executable} (colorlab not pip-installed)")
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 64, 3),
                                                      dtype=np.uint8)).save(photo)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    version = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.strip() == f"colorlab {colorlab.__version__}"
    out = tmp_path / "out.png"
    run = subprocess.run([script, "colorize", str(photo), "--model", "mse", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    with Image.open(out) as im:
        assert im.size == (64, 48) and im.mode == "RGB"


def test_no_module_imports_a_private_name_of_another():
    """Modules talk through public names: ``from x import _y`` (``__future__`` aside) nowhere."""
    import ast
    bad = []
    for path in sorted((ROOT / "colorlab").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                bad += [f"{path.relative_to(ROOT)}:{node.lineno} {alias.name}"
                        for alias in node.names if alias.name.startswith("_")]
    assert not bad, bad

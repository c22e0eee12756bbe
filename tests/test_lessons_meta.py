"""Static checks of the committed lesson notebooks (no execution: nbval runs them, see
pyproject.toml).

Every ``lessons/NN_*.ipynb`` must read as a finished chapter that opens in Colab: valid JSON under
3 MB, executed with no stored errors and no absolute paths of the author's machine in its outputs,
the Colab badge of its own path first, the course's set-up cell, a ``parameters`` cell, and at least
one exercise (solution region) with a test cell (visible ``colorlab.checks`` call + hidden tests).
The student versions made by ``python -m colorlab.assignments make`` must hold no solution code and
no hidden tests.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from colorlab.course import badge_url, setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 3 * 1024 * 1024
# Absolute paths of a developer's machine (POSIX homes, temp folders, macOS and Windows user
# folders).
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(/(work|tmp|root|home|Users|private/var|var/folders)(/|\b)"
                           r"|[A-Za-z]:\\\\?Users\\\\?)")
SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION", re.M | re.S)

pytestmark = pytest.mark.skipif(not LESSONS, reason="no lessons/NN_*.ipynb yet")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _output_texts(cell):
    for out in cell.get("outputs", []):
        if "text" in out:
            yield "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/") or mime == "application/json":
                yield "".join(value) if isinstance(value, list) else str(value)
        if out.get("output_type") == "error":
            yield "\n".join(out.get("traceback", []))


def _ids(paths):
    return [p.name for p in paths]


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_valid_small_and_executed(path):
    assert path.stat().st_size < MAX_BYTES, \
        f"{path.name}: {path.stat().st_size / 1e6:.1f} MB (limit 3 MB)"
    nb = _load(path)
    assert nb.get("nbformat") == 4
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name}: no code cells"
    not_run = [i for i, c in enumerate(nb["cells"])
               if c["cell_type"] == "code" and c.get("execution_count") is None
               and _src(c).strip()]
    assert not not_run, \
        f"{path.name}: cells {not_run} were not executed (commit the outputs of a default run)"
    errors = [(i, o.get("ename")) for i, c in enumerate(nb["cells"]) for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: stored errors {errors}"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_no_absolute_paths_in_outputs(path):
    nb = _load(path)
    hits = [(i, m.group(0)) for i, c in enumerate(nb["cells"]) for text in _output_texts(c)
            for m in ABSOLUTE_PATH.finditer(text)]
    assert not hits, f"{path.name}: absolute paths in outputs (cell, match): {hits[:5]}"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_header_setup_and_parameters(path):
    nb = _load(path)
    first = nb["cells"][0]
    rel = path.relative_to(ROOT).as_posix()
    assert first["cell_type"] == "markdown" and "colab-badge.svg" in _src(first), \
        f"{path.name}: no Colab badge first"
    assert badge_url(rel) in _src(first), f"{path.name}: badge does not link to {badge_url(rel)}"
    assert any(c["cell_type"] == "code" and _src(c) == setup_cell_source() for c in nb["cells"]), \
        (f"{path.name}: no cell equal to colorlab.course.setup_cell_source() "
         "(run python -m colorlab.course sync)")
    params = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, \
        f"{path.name}: {len(params)} cells tagged 'parameters' (need exactly one)"
    assert "QUICK" in _src(params[0]), \
        f"{path.name}: the parameters cell should use quick mode (QUICK)"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_exercises_and_checks(path):
    nb = _load(path)
    sources = [_src(c) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(SOLUTION.search(s) for s in sources), \
        f"{path.name}: no ### BEGIN/END SOLUTION region"
    tests = [s for s in sources if s.lstrip().startswith("# TEST:")]
    assert tests, f"{path.name}: no test cell starting with '# TEST:'"
    for s in tests:
        head = s.lstrip().splitlines()[0]
        assert "checks." in s, \
            f"{path.name}: test cell {head!r} has no visible colorlab.checks call"
        assert "### BEGIN HIDDEN TESTS" in s and "### END HIDDEN TESTS" in s, \
            f"{path.name}: test cell {head!r} has no hidden tests"
    checked = [c for c in nb["cells"]
               if c["cell_type"] == "code" and _src(c).startswith("# NBVAL_CHECK_OUTPUT")]
    empty = [_src(c).splitlines()[1:2] for c in checked if not c.get("outputs")]
    assert not empty, f"{path.name}: NBVAL_CHECK_OUTPUT cells without stored output: {empty}"


def test_assignments_make_strips_solutions(tmp_path):
    out = tmp_path / "student"
    proc = subprocess.run([sys.executable, "-m", "colorlab.assignments", "make",
                           str(ROOT / "lessons"), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for path in LESSONS:
        student = out / path.name
        assert student.is_file(), f"no student version of {path.name}"
        nb = _load(student)
        student_code = "\n".join(_src(c) for c in nb["cells"] if c["cell_type"] == "code")
        for marker in ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS"):
            assert marker not in student_code, \
                f"student {path.name} still holds {marker!r} in a code cell"
        assert "raise NotImplementedError()" in student_code, \
            f"student {path.name}: no exercise stub"
        for cell in _load(path)["cells"]:
            for m in SOLUTION.finditer(_src(cell)):
                body = [ln.strip() for ln in m.group(1).splitlines() if len(ln.strip()) > 20]
                leaked = [ln for ln in body if ln in student_code]
                assert not leaked, f"student {path.name} leaks solution lines: {leaked[:3]}"
        for cell in nb["cells"]:
            if ("raise NotImplementedError()" in _src(cell)
                    or _src(cell).lstrip().startswith("# TEST:")):
                assert not cell.get("outputs"), \
                    f"student {path.name}: exercise outputs not cleared"

"""The README's claim, checked with the real tool: a lesson exported for nbgrader goes through
``nbgrader generate_assignment`` (no solutions, no hidden tests in the release) and
``nbgrader autograde`` (a complete submission scores full marks, an untouched one 0).

nbgrader is not in requirements.txt (instructors install it: ``pip install nbgrader``); CI installs
a pinned version, and with ``CI`` set a missing nbgrader fails this test instead of skipping it.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from colorlab.assignments import export_nbgrader

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "01_lab_color_space.ipynb"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nbgrader():
    exe = shutil.which("nbgrader") or str(Path(sys.executable).with_name("nbgrader"))
    if not Path(exe).exists():
        if os.environ.get("CI"):
            pytest.fail("CI is set but nbgrader is not installed (.ci/run installs it)")
        pytest.skip("needs nbgrader (pip install nbgrader)")
    return exe


def _run(cmd, course, **env):
    run = subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1", **env})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return run


def test_generate_assignment_and_autograde_with_real_nbgrader(nbgrader, tmp_path):
    course = tmp_path / "course"
    export_nbgrader([LESSON], course, "lesson01")
    (course / "nbgrader_config.py").write_text("c = get_config()\n")
    _run([nbgrader, "generate_assignment", "lesson01", "--force"], course)
    released = json.loads((course / "release" / "lesson01" / LESSON.name).read_text())
    sources = ["".join(c["source"]) for c in released["cells"]]
    assert not any("### BEGIN SOLUTION" in s or "### BEGIN HIDDEN TESTS" in s for s in sources)
    assert any("raise NotImplementedError()" in s for s in sources)

    source = json.loads((course / "source" / "lesson01" / LESSON.name).read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
               if c["metadata"].get("nbgrader", {}).get("solution")}
    complete = copy.deepcopy(released)          # a learner who wrote the model solutions
    for cell in complete["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution"):
            cell["source"] = answers[meta["grade_id"]]
    for student, nb in (("alice", complete), ("bob", released)):
        folder = course / "submitted" / student / "lesson01"
        folder.mkdir(parents=True)
        (folder / LESSON.name).write_text(json.dumps(nb))
        _run([nbgrader, "db", "student", "add", student], course)
    _run([nbgrader, "autograde", "lesson01", "--force"], course, COLORLAB_QUICK="1")

    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        alice = gb.find_submission("lesson01", "alice")
        bob = gb.find_submission("lesson01", "bob")
        assert alice.max_code_score > 0
        assert alice.code_score == alice.max_code_score
        assert bob.code_score == 0

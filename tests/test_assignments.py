"""Student versions hold no solution code; solutions grade full marks; untouched or broken
submissions grade 0."""
import json
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from colorlab import assignments

SOLUTION = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
TEST = ("# TEST: double (2 points)\nassert double(2) == 4\n"
        "### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS\n")
SOLUTION2 = "### BEGIN SOLUTION\nsquares = [i * i for i in range(4)]\n### END SOLUTION\n"
TEST2 = ("# TEST: squares\n### BEGIN HIDDEN TESTS\nassert squares == [0, 1, 4, 9]\n"
         "### END HIDDEN TESTS\n")


@pytest.fixture()
def lessons(tmp_path):
    folder = tmp_path / "lessons"
    folder.mkdir()
    nb = new_notebook(cells=[new_markdown_cell("# Lesson 03"), new_code_cell("import math"),
                             new_code_cell(SOLUTION), new_code_cell(TEST),
                             new_code_cell(SOLUTION2), new_code_cell(TEST2)])
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="solution output")]
    nbformat.write(nb, str(folder / "03_toy.ipynb"))
    return folder


def test_strip_helpers_keep_indentation():
    assert "return 2 * x" not in assignments.strip_solutions(SOLUTION)
    assert "    raise NotImplementedError()" in assignments.strip_solutions(SOLUTION)
    hidden_free = assignments.strip_hidden_tests(TEST)
    assert "double(-3)" not in hidden_free and "double(2) == 4" in hidden_free


def test_make_writes_student_versions_without_solutions(lessons, tmp_path):
    out = tmp_path / "build"
    written = assignments.make(lessons, out)
    assert [p.name for p in written] == ["03_toy.ipynb"]
    text = written[0].read_text()
    for secret in ("return 2 * x", "double(-3)", "i * i", "BEGIN SOLUTION", "HIDDEN",
                   "solution output"):
        assert secret not in text
    assert text.count("raise NotImplementedError()") == 2
    with pytest.raises(ValueError, match="refusing to overwrite"):
        assignments.make(lessons, lessons)


def test_grading(lessons, tmp_path):
    out = tmp_path / "build"
    assignments.make(lessons, out)
    full = assignments.grade(lessons / "03_toy.ipynb", "03", lessons, timeout=60)
    assert [(s.exercise, s.points, s.max_points) for s in full] == [("double", 2, 2),
                                                                     ("squares", 1, 1)]

    untouched = assignments.grade(out / "03_toy.ipynb", "03", lessons, timeout=60)
    assert [s.points for s in untouched] == [0, 0]
    assert "NotImplementedError" in untouched[0].error

    # a wrong answer passes the visible test but fails the hidden one
    nb = nbformat.read(str(out / "03_toy.ipynb"), as_version=4)
    nb.cells[2].source = "def double(x):\n    return x + 2\n"
    nb.cells[4].source = "squares = [0, 1, 4, 9]\n"
    nbformat.write(nb, str(tmp_path / "wrong.ipynb"))
    wrong = assignments.grade(tmp_path / "wrong.ipynb", "03", lessons, timeout=60)
    assert [s.points for s in wrong] == [0, 1]

    (tmp_path / "broken.ipynb").write_text("{ not json")
    broken = assignments.grade(tmp_path / "broken.ipynb", "03", lessons, timeout=60)
    assert [s.points for s in broken] == [0, 0] and "cannot read" in broken[0].error


@pytest.mark.slow  # grades a lesson in a subprocess
def test_command_line_json(lessons, tmp_path):
    cmd = [sys.executable, "-m", "colorlab.assignments", "grade", str(lessons / "03_toy.ipynb"),
           "--lesson", "3", "--lessons-dir", str(lessons), "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["total"] == report["max_total"] == 3
    missing = subprocess.run([sys.executable, "-m", "colorlab.assignments", "grade", "x.ipynb",
                              "--lesson", "42", "--lessons-dir", str(lessons)],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "lesson '42'" in missing.stderr


def test_model_answers_in_markdown_are_hidden_from_students():
    question = new_markdown_cell("**Q1.** Why sepia?")
    answer = new_markdown_cell("**Answer.**\n### BEGIN SOLUTION\nThe conditional mean of many "
                               "hues is a dull brown.\n### END SOLUTION\n")
    student = assignments.make_student_notebook(new_notebook(cells=[question, answer]))
    assert student.cells[0].source == question.source
    assert student.cells[1].source == "**Answer.**\n*Your answer here.*\n"
    assert "dull brown" in answer.source     # the instructor's notebook is not changed

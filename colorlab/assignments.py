"""Classroom assignments: make student versions of the lessons, and grade submissions.

Markers (the nbgrader convention, which otter-grader reads too):

- ``### BEGIN SOLUTION`` / ``### END SOLUTION`` around the solution inside an exercise cell. In
  the student version the region becomes ``# YOUR CODE HERE`` and ``raise NotImplementedError()``.
- ``### BEGIN HIDDEN TESTS`` / ``### END HIDDEN TESTS`` inside a *test cell*, the cell that checks
  one exercise. The student version drops the region; grading puts the instructor's test cell back.
- A test cell starts with ``# TEST: <exercise name>`` and may say ``(N points)``; the default is 1.
- In a markdown cell, the same solution markers hold a model answer to a conceptual question; the
  student version shows ``*Your answer here.*`` instead.

Command line::

    python -m colorlab.assignments make lessons/ --out build/assignments
    python -m colorlab.assignments grade SUBMISSION.ipynb --lesson 03 [--json]
    python -m colorlab.assignments nbgrader lessons/03_*.ipynb --course COURSE --assignment lesson03

Grading runs the submission, with the instructor's test cells in place, in quick mode
(``COLORLAB_QUICK=1``), and never crashes on a broken submission: an exercise whose test cell
fails, or that cannot run at all, scores 0.

Examples
--------
>>> from colorlab.assignments import strip_solutions
>>> print(strip_solutions("x = 1\\n### BEGIN SOLUTION\\ny = x + 1\\n### END SOLUTION\\n"))
x = 1
# YOUR CODE HERE
raise NotImplementedError()
<BLANKLINE>
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat

__all__ = ["strip_solutions", "strip_answers", "strip_hidden_tests", "make_student_notebook",
           "make", "grade", "Score", "nbgrader_notebook", "export_nbgrader"]

_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n.*?"
                       r"^[ \t]*### END SOLUTION[^\n]*(\n|$)", re.M | re.S)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n.*?"
                     r"^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)", re.M | re.S)
_TEST_HEADER = re.compile(r"^# TEST:\s*(?P<name>.+?)\s*(\((?P<points>\d+(\.\d+)?) points?\))?\s*$",
                          re.M)


def strip_solutions(source: str) -> str:
    """Replace each solution region by ``# YOUR CODE HERE`` + ``raise NotImplementedError()``
    (indent kept)."""
    return _SOLUTION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n"
                                   f"{m.group(1)}raise NotImplementedError()\n", source)


def strip_answers(source: str) -> str:
    """Replace each solution region of a markdown cell (a model answer) by ``*Your answer here.*``.

    Examples
    --------
    >>> print(strip_answers("**Answer**\\n### BEGIN SOLUTION\\nThe mean.\\n### END SOLUTION\\n"))
    **Answer**
    *Your answer here.*
    <BLANKLINE>
    """
    return _SOLUTION.sub(lambda m: f"{m.group(1)}*Your answer here.*\n", source)


def strip_hidden_tests(source: str) -> str:
    """Remove every hidden-test region."""
    return _HIDDEN.sub("", source)


def _is_exercise(cell) -> bool:
    return cell.cell_type == "code" and ("### BEGIN SOLUTION" in cell.source
                                         or "### BEGIN HIDDEN TESTS" in cell.source)


def _test_header(cell):
    return _TEST_HEADER.search(cell.source) if cell.cell_type == "code" else None


def make_student_notebook(nb):
    """Student version of a lesson notebook (a new object): solutions stubbed, hidden tests removed,
    outputs of exercise and test cells cleared."""
    student = copy.deepcopy(nb)
    for cell in student.cells:
        if cell.cell_type == "markdown" and "### BEGIN SOLUTION" in cell.source:
            cell.source = strip_answers(cell.source)    # model answers to the questions
        if _is_exercise(cell) or _test_header(cell):
            cell.source = strip_hidden_tests(strip_solutions(cell.source))
            cell.outputs, cell.execution_count = [], None
    return student


def make(lessons_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Write the student version of every ``NN_*.ipynb`` in ``lessons_dir`` to ``out_dir``."""
    lessons_dir, out_dir = Path(lessons_dir), Path(out_dir)
    paths = sorted(lessons_dir.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"{lessons_dir}: no lesson notebooks (NN_name.ipynb) found")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out_dir / path.name
        if target.resolve() == path.resolve():
            raise ValueError(f"{target}: refusing to overwrite the instructor's lesson; "
                             "choose another --out")
        nbformat.write(make_student_notebook(nbformat.read(path, as_version=4)), str(target))
        written.append(target)
    return written


@dataclass
class Score:
    """One exercise's result."""
    exercise: str
    points: float
    max_points: float
    error: str | None = None


def _find_lesson(lesson: str, lessons_dir: Path) -> Path:
    matches = sorted(lessons_dir.glob(f"{int(lesson):02d}_*.ipynb")) if lesson.isdigit() else []
    if not matches:
        raise FileNotFoundError(f"lesson {lesson!r}: no {lessons_dir}/NN_*.ipynb matches")
    return matches[0]


def _graded_notebook(source_nb, submission_nb):
    """The notebook to run: the learner's cells, with the instructor's test cells (hidden tests
    included)."""
    submitted = {c.get("id"): c for c in (submission_nb.cells if submission_nb else [])
                 if c.get("id")}
    student = make_student_notebook(source_nb)
    cells = []
    for src_cell, stub_cell in zip(source_nb.cells, student.cells):
        if _test_header(src_cell):
            cells.append(copy.deepcopy(src_cell))
        else:
            cells.append(copy.deepcopy(submitted.get(src_cell.get("id"), stub_cell)))
    graded = copy.deepcopy(source_nb)
    graded.cells = cells
    return graded


def _error_text(outputs) -> str | None:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"[:300]
    return None


def grade(submission: str | Path, lesson: str, lessons_dir: str | Path = "lessons",
          timeout: int = 600) -> list[Score]:
    """Run a submission with the hidden tests and score each exercise.

    Parameters
    ----------
    submission : path of the learner's notebook
    lesson : lesson number, e.g. ``"03"``
    lessons_dir : folder with the instructor's lessons (solutions and hidden tests)
    timeout : seconds allowed per cell

    Returns
    -------
    list of Score, one per test cell, in notebook order. Never raises for a broken submission.
    """
    from nbclient import NotebookClient

    source_nb = nbformat.read(_find_lesson(str(lesson), Path(lessons_dir)), as_version=4)
    tests = [(i, _test_header(c)) for i, c in enumerate(source_nb.cells) if _test_header(c)]
    problem = None
    try:
        submission_nb = nbformat.read(str(submission), as_version=4)
    except Exception as exc:  # unreadable file: every exercise scores 0
        submission_nb, problem = None, (f"{submission}: cannot read the notebook "
                                        f"({type(exc).__name__}: {exc})")
    graded = _graded_notebook(source_nb, submission_nb)
    if problem is None:
        env = {**os.environ, "COLORLAB_QUICK": "1"}
        client = NotebookClient(graded, timeout=timeout, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": str(Path(lessons_dir).resolve())}})
        try:
            client.execute(env=env)
        except Exception as exc:  # kernel died, timeout: the cells not run score 0
            problem = f"execution stopped: {type(exc).__name__}: {exc}"[:300]
    scores = []
    for index, header in tests:
        max_points = float(header.group("points") or 1)
        cell = graded.cells[index]
        ran = cell.get("execution_count") is not None
        error = problem if submission_nb is None else (_error_text(cell.get("outputs", [])) or
                                                      (None if ran else problem or "not run"))
        scores.append(Score(header.group("name"), 0.0 if error else max_points, max_points, error))
    return scores


def nbgrader_notebook(nb):
    """A copy of a lesson carrying nbgrader's cell metadata, so nbgrader itself can use it.

    nbgrader finds its cells through ``cell.metadata["nbgrader"]``, not through the markers alone:
    solution cells get ``solution``, test cells (``# TEST: ...``) become locked autograded cells
    worth their points, and markdown model answers become manually graded answer cells (1 point).
    The ``grade_id`` is the cell's id.
    """
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.cells):
        header, gid = _test_header(cell), cell.get("id") or f"cell-{i}"
        if header:
            meta = {"grade": True, "solution": False, "locked": True,
                    "points": float(header.group("points") or 1)}
        elif _is_exercise(cell):
            meta = {"grade": False, "solution": True, "locked": False}
        elif cell.cell_type == "markdown" and "### BEGIN SOLUTION" in cell.source:
            meta = {"grade": True, "solution": True, "locked": False, "points": 1.0}
        else:
            continue
        cell.metadata["nbgrader"] = {**meta, "grade_id": gid, "schema_version": 3}
    return out


def export_nbgrader(lessons, course_dir: str | Path, assignment: str) -> list[Path]:
    """Write ``lessons`` (paths) with nbgrader metadata into ``course_dir/source/assignment/``.

    Then, in ``course_dir``: ``nbgrader generate_assignment ASSIGNMENT`` makes the student
    version, and ``nbgrader autograde ASSIGNMENT`` grades the submissions (set
    ``COLORLAB_QUICK=1`` so the lessons run in quick mode, as :func:`grade` does).
    """
    target = Path(course_dir) / "source" / assignment
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for path in map(Path, lessons):
        nbformat.write(nbgrader_notebook(nbformat.read(path, as_version=4)),
                       str(target / path.name))
        written.append(target / path.name)
    return written


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorlab.assignments",
                                     description="Make student versions of the lessons, "
                                                 "and grade submissions.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_make = sub.add_parser("make",
                            help="write student versions (solutions stubbed, hidden tests removed)")
    p_make.add_argument("lessons", help="folder with the instructor's lessons")
    p_make.add_argument("--out", required=True, help="folder for the student versions")
    p_grade = sub.add_parser("grade",
                             help="run a submission with the hidden tests and print its score")
    p_grade.add_argument("submission", help="the learner's .ipynb")
    p_grade.add_argument("--lesson", required=True, help="lesson number, e.g. 03")
    p_grade.add_argument("--lessons-dir", default="lessons",
                         help="the instructor's lessons (default lessons/)")
    p_grade.add_argument("--json", action="store_true", help="print JSON for a gradebook")
    p_grade.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    p_nbg = sub.add_parser("nbgrader", help="copy lessons into an nbgrader course, with metadata")
    p_nbg.add_argument("lessons", nargs="+", help="lesson notebooks (.ipynb)")
    p_nbg.add_argument("--course", required=True, help="the nbgrader course folder")
    p_nbg.add_argument("--assignment", required=True, help="assignment name, e.g. lesson03")
    args = parser.parse_args(argv)
    try:
        if args.command in ("make", "nbgrader"):
            paths = (make(args.lessons, args.out) if args.command == "make" else
                     export_nbgrader(args.lessons, args.course, args.assignment))
            for path in paths:
                print(path)
            return 0
        scores = grade(args.submission, args.lesson, args.lessons_dir, args.timeout)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total, best = sum(s.points for s in scores), sum(s.max_points for s in scores)
    if args.json:
        print(json.dumps({"submission": str(args.submission), "lesson": args.lesson, "total": total,
                          "max_total": best, "exercises": [asdict(s) for s in scores]}, indent=2))
    else:
        for s in scores:
            print(f"{s.points:g}/{s.max_points:g}  {s.exercise}"
                  + (f"  ({s.error})" if s.error else ""))
        print(f"total: {total:g}/{best:g}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())

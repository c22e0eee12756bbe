"""colorlab.checks gives tolerance-based feedback and never crashes a notebook; colorlab.course
settings."""

import numpy as np
import torch

import colorlab.checks as checks
import colorlab.course as course


def test_rel_error_hand_computed():
    assert checks.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    # max|x-y| = 1, max(|x|+|y|) = 3 + 4 = 7
    assert abs(checks.rel_error([1.0, 3.0], [1.0, 4.0]) - 1 / 7) < 1e-12
    assert checks.rel_error(torch.zeros(3), np.zeros(3)) == 0.0


def test_check_close_passes_within_tolerance_and_fails_outside(capsys):
    x = np.linspace(1, 2, 10)
    assert checks.check_close("x", x * (1 + 1e-6), x)
    assert not checks.check_close("x", x * 1.1, x, hint="scale")
    out = capsys.readouterr().out
    assert "✅ x" in out and "❌ x" in out and "hint: scale" in out


def test_check_close_reports_shape_and_none(capsys):
    assert not checks.check_close("y", np.zeros((2, 3)), np.zeros((3, 2)))
    assert not checks.check_close("z", None, np.zeros(2))
    out = capsys.readouterr().out
    assert "expected (3, 2)" in out and "got None" in out


def test_check_shape_range_true(capsys):
    t = torch.zeros(4, 2, 8, 8)
    assert checks.check_shape("ab", t, (None, 2, 8, 8))
    assert not checks.check_shape("ab", t, (4, 3, 8, 8))
    assert checks.check_range("L", torch.tensor([0.0, 100.0]), 0, 100)
    assert not checks.check_range("L", torch.tensor([0.0, 101.0]), 0, 100)
    assert not checks.check_range("L", torch.tensor([float("nan")]), 0, 100)
    assert checks.check_true("w", True, "ok") and not checks.check_true("w", False, "no")


def test_attempt_turns_errors_into_feedback(capsys):
    def todo():
        raise NotImplementedError()

    assert checks.attempt("ex", todo) is None
    assert checks.attempt("ex", lambda: 1 / 0) is None
    assert checks.attempt("ex", lambda a: a + 1, 1) == 2
    out = capsys.readouterr().out
    assert "not done yet" in out and "ZeroDivisionError" in out


def test_quick_mode_reads_environment(monkeypatch):
    monkeypatch.setenv("COLORLAB_QUICK", "1")
    assert course.quick_mode()
    monkeypatch.setenv("COLORLAB_QUICK", "0")
    assert not course.quick_mode()


def test_setup_cell_installs_only_in_colab_and_never_pins_torch():
    src = course.setup_cell_source()
    assert '"google.colab" in sys.modules' in src and course.REPO in src
    assert "torch" not in src.split("%pip")[1].split("\n")[0]
    assert "--upgrade" not in src and "-U " not in src

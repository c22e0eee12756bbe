"""Course-wide settings shared by every lesson: where the repository lives, quick mode, Colab.

The repository URL is set here and nowhere else. A fork changes :data:`REPO` (one line), then runs
``python -m colorlab.course sync`` to rewrite every lesson's Colab badge and set-up cell and the
README's badges; ``tests/test_lessons_meta.py`` checks that they agree.

Examples
--------
>>> from colorlab.course import badge_url
>>> badge_url("lessons/01_lab_color_space.ipynb").startswith("https://colab.research.google.com/github/")
True
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

REPO = "colorlab-course/colorlab"  # GitHub ORG/NAME: the one line a fork changes
BRANCH = "main"

__all__ = ["REPO", "BRANCH", "quick_mode", "in_colab", "badge_url", "badge_markdown", "setup_cell_source", "sync"]


def quick_mode() -> bool:
    """True when ``COLORLAB_QUICK=1``: lessons shrink data and steps but run the same code (set by the tests)."""
    return os.environ.get("COLORLAB_QUICK", "0").strip().lower() in {"1", "true", "yes", "on"}


def in_colab() -> bool:
    """True inside Google Colab (``google.colab`` is imported there before any cell runs)."""
    return "google.colab" in sys.modules


def badge_url(path: str, repo: str = REPO, branch: str = BRANCH) -> str:
    """The "Open in Colab" link for a notebook at ``path`` (relative to the repository root)."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"


def badge_markdown(path: str, repo: str = REPO, branch: str = BRANCH) -> str:
    """Markdown for the Colab badge of the notebook at ``path``."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({badge_url(path, repo, branch)})")


def setup_cell_source(repo: str = REPO, branch: str = BRANCH) -> str:
    """The first code cell of every lesson.

    In Colab it installs colorlab from the repository (without upgrading Colab's torch or numpy:
    their lower bounds are already met, and pip leaves satisfied packages alone) and enables the
    widget manager; locally it does nothing. Running it twice is harmless.
    """
    return (
        "# Set-up. In Colab: install colorlab once (Colab's torch and numpy are kept as they are) and\n"
        "# enable interactive widgets. Locally: nothing to do (pip install -r requirements.txt did it).\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        "    try:\n"
        "        import colorlab\n"
        "    except ImportError:\n"
        f"        %pip install -q \"colorlab @ git+https://github.com/{repo}@{branch}\"\n"
        "    from google.colab import output\n"
        "    output.enable_custom_widget_manager()"
    )


_BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+?/blob/[^/)\s]+/(lessons/[^)\s]+\.ipynb)")


def sync(root: str | Path = ".", repo: str = REPO, branch: str = BRANCH) -> list[str]:
    """Rewrite Colab badges (lessons and README) and lesson set-up cells for ``repo``; return changed files."""
    root = Path(root)
    changed = []
    for nb_path in sorted((root / "lessons").glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        rel = nb_path.relative_to(root).as_posix()
        before = json.dumps(nb)
        for cell in nb["cells"]:
            src = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "colab-badge.svg" in src:
                src = _BADGE_RE.sub(badge_url(rel, repo, branch), src)
            elif cell["cell_type"] == "code" and src.startswith("# Set-up. In Colab"):
                src = setup_cell_source(repo, branch)
            cell["source"] = src.splitlines(keepends=True)
        if json.dumps(nb) != before:
            nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(rel)
    readme = root / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        new = _BADGE_RE.sub(lambda m: badge_url(m.group(1), repo, branch), text)
        if new != text:
            readme.write_text(new, encoding="utf-8")
            changed.append("README.md")
    return changed


if __name__ == "__main__":  # python -m colorlab.course sync [--repo ORG/NAME] [--branch B]
    import argparse

    parser = argparse.ArgumentParser(prog="python -m colorlab.course",
                                     description="Rewrite lesson badges and set-up cells for a repository.")
    parser.add_argument("command", choices=["sync"])
    parser.add_argument("--repo", default=REPO, help=f"GitHub ORG/NAME (default {REPO})")
    parser.add_argument("--branch", default=BRANCH)
    args = parser.parse_args()
    for name in sync(".", args.repo, args.branch) or ["nothing to change"]:
        print(name)

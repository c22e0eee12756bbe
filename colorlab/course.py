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

__all__ = ["REPO", "BRANCH", "quick_mode", "in_colab", "badge_url", "badge_markdown",
           "setup_cell_source", "sync", "local_cifar10", "course_dataset"]


def quick_mode() -> bool:
    """True when ``COLORLAB_QUICK=1``: lessons shrink data and steps but run the same code (set by
    the tests)."""
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
        "# Set-up. In Colab: install colorlab once (Colab's torch and numpy are kept as they are)"
        " and\n"
        "# enable interactive widgets. Locally: nothing to do (pip install -r requirements.txt did"
        " it).\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        "    try:\n"
        "        import colorlab\n"
        "    except ImportError:\n"
        f"        %pip install -q \"colorlab @ git+https://github.com/{repo}@{branch}\"\n"
        "    from google.colab import output\n"
        "    output.enable_custom_widget_manager()"
    )


def _repo_root(start: Path) -> Path | None:
    return next((p for p in [start, *start.parents] if (p / "colorlab" / "__init__.py").is_file()),
                None)


def local_cifar10(start: str | Path | None = None) -> Path | None:
    """A folder of the CIFAR-10 JPEGs (``train/<class>/*.jpg``, ``test/<class>/*.jpg``), or None.

    Looked for, in order: ``$COLORLAB_CIFAR10_DIR``; the course archive
    ``../shared/data/cifar10/cifar10-jpg.tar.gz`` beside the repository (instructors' and CI
    machines), extracted once into the colorlab cache. A learner's fresh clone has neither: use
    ``load_dataset("cifar10", download=True)`` (torchvision) instead.
    """
    import tarfile

    from .data import cache_dir

    if os.environ.get("COLORLAB_CIFAR10_DIR"):
        return Path(os.environ["COLORLAB_CIFAR10_DIR"])
    roots = [r for r in {_repo_root(Path(start or Path.cwd()).resolve()),
                         _repo_root(Path(__file__).resolve())} if r]
    archives = [r.parent / "shared" / "data" / "cifar10" / "cifar10-jpg.tar.gz" for r in roots]
    archive = next((a for a in archives if a.is_file()), None)
    if archive is None:
        return None
    target = cache_dir() / "cifar10-jpg"
    if not (target / ".complete").exists():
        tmp = target.with_name(target.name + ".partial")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        os.replace(tmp, target) if not target.exists() else None
        (target / ".complete").touch()
    return target


def course_dataset(split: str = "test", size: int = 32, limit: int | None = None,
                   download: bool = False, verbose: bool = True):
    """The data the lessons measure on: CIFAR-10 when it can be had, else the offline sample photos.

    Tries the local JPEG copy (:func:`local_cifar10`), then torchvision's CIFAR-10 (downloaded only
    if ``download=True``), then falls back to :func:`colorlab.data.sample_photos`.

    Returns
    -------
    (LabDataset, str) : the dataset, and a description of where it came from.
    """
    from .data import DatasetNotFoundError, load_dataset
    from .download import OfflineError

    folder = local_cifar10()
    if folder is not None:
        ds, source = (load_dataset(f"folder:{folder}", split=split, size=size, limit=limit),
                      f"CIFAR-10 {split} split")
    else:
        try:
            ds = load_dataset("cifar10", split=split, size=size, limit=limit, download=download)
            source = f"CIFAR-10 {split} split (torchvision)"
        except (DatasetNotFoundError, OfflineError):
            ds, source = (load_dataset("samples", size=size),
                          "the sample photos (CIFAR-10 not available offline)")
    if verbose:
        print(f"data: {source}, {len(ds)} images at {size}x{size}")
    return ds, source


_BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+?/blob/[^/)\s]+/"
                       r"(lessons/[^)\s]+\.ipynb)")


def sync(root: str | Path = ".", repo: str = REPO, branch: str = BRANCH) -> list[str]:
    """Rewrite Colab badges (lessons and README) and lesson set-up cells for ``repo``; return
    changed files."""
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
            nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n",
                               encoding="utf-8")
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

    parser = argparse.ArgumentParser(
        prog="python -m colorlab.course",
        description="Rewrite lesson badges and set-up cells for a repository.")
    parser.add_argument("command", choices=["sync"])
    parser.add_argument("--repo", default=REPO, help=f"GitHub ORG/NAME (default {REPO})")
    parser.add_argument("--branch", default=BRANCH)
    args = parser.parse_args()
    for name in sync(".", args.repo, args.branch) or ["nothing to change"]:
        print(name)

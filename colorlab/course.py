"""Course-wide settings shared by every lesson: where the repository lives, quick mode, Colab.

The repository's address is set here and nowhere else (:data:`REPO`, :data:`BRANCH`); the Colab
badges, the lessons' set-up cells and the clone commands are generated from it. An instructor who
publishes the course from a fork or a copy runs one command from the repository's root::

    python -m colorlab.course set-repo OWNER/NAME [--branch BRANCH]

which rewrites :data:`REPO` and :data:`BRANCH` below and every badge, set-up cell and clone
command to match (:func:`set_repo`); ``tests/test_lessons_meta.py`` checks that they agree.

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
           "setup_cell_source", "sync", "set_repo", "local_cifar10", "course_dataset",
           "fallback_banner", "course_photos", "IMAGENETTE_WNIDS"]


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


def _shared_archive(relative: str, folder: str, start) -> Path | None:
    """Extract ``../shared/data/RELATIVE`` (beside the repository) once into the cache as
    ``FOLDER``; its path, or None when the archive is not there."""
    import tarfile

    from .data import cache_dir

    roots = [r for r in {_repo_root(Path(start or Path.cwd()).resolve()),
                         _repo_root(Path(__file__).resolve())} if r]
    archive = next((a for a in (r.parent / "shared" / "data" / relative for r in roots)
                    if a.is_file()), None)
    if archive is None:
        return None
    target = cache_dir() / folder
    if not (target / ".complete").exists():
        tmp = target.with_name(target.name + ".partial")
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        os.replace(tmp, target) if not target.exists() else None
        (target / ".complete").touch()
    return target


def local_cifar10(start: str | Path | None = None) -> Path | None:
    """A folder of the CIFAR-10 JPEGs (``train/<class>/*.jpg``, ``test/<class>/*.jpg``), or None.

    Looked for, in order: ``$COLORLAB_CIFAR10_DIR``; the course archive
    ``../shared/data/cifar10/cifar10-jpg.tar.gz`` beside the repository (instructors' and CI
    machines), extracted once into the colorlab cache. A learner's fresh clone has neither: use
    ``load_dataset("cifar10", download=True)`` (torchvision) instead.
    """
    if os.environ.get("COLORLAB_CIFAR10_DIR"):
        return Path(os.environ["COLORLAB_CIFAR10_DIR"])
    return _shared_archive("cifar10/cifar10-jpg.tar.gz", "cifar10-jpg", start)


#: The Imagenette classes (WordNet ids). The photo models trained on them, so photos of these
#: classes are left out of the ImageNet sample when it serves as unseen photos.
IMAGENETTE_WNIDS = ("n01440764", "n02102040", "n02979186", "n03000684", "n03028079", "n03394916",
                    "n03417042", "n03425413", "n03445777", "n03888605")


def course_photos(limit: int | None = None, download: bool | None = None, verbose: bool = True):
    """Real photographs the photo models never saw, whole (any size): ``({name: photo}, source)``.

    In order: ``$COLORLAB_PHOTOS_DIR`` (any folder of photos); the course developers' ImageNet
    sample (one photo per class, short side 256, the 10 Imagenette classes left out) beside the
    repository; torchvision's Imagenette validation split (downloaded, checksummed, when
    ``download`` is true; ``None`` means "in Colab"); else the sample photos, with a loud
    :func:`fallback_banner`. Photos are file paths (read them with :func:`colorlab.io.read_image`,
    or pass them to ``evaluate(..., whole=True)``) or, for the samples, arrays.
    """
    from .data import DatasetNotFoundError, list_photos
    from .download import OfflineError

    if download is None:
        download = in_colab()
    if os.environ.get("COLORLAB_PHOTOS_DIR"):
        folder = os.environ["COLORLAB_PHOTOS_DIR"]
        photos, source = list_photos(f"folder:{folder}", limit=limit), f"the photos in {folder}"
    else:
        sample = _shared_archive("photos/imagenet-sample-256.tar", "imagenet-sample-256", None)
        if sample is not None:
            every = list_photos(f"folder:{sample / 'imagenet-sample'}")
            photos = {k: v for k, v in sorted(every.items())
                      if not k.startswith(IMAGENETTE_WNIDS)}
            photos = dict(list(photos.items())[:limit]) if limit else photos
            source = "the ImageNet sample (one photo per class; Imagenette's classes left out)"
        else:
            try:
                photos = list_photos("imagenette", split="val", limit=limit, download=download)
                source = "Imagenette's validation split (torchvision)"
            except (DatasetNotFoundError, OfflineError) as e:
                photos, source = list_photos("samples", limit=limit), "the sample photos"
                if verbose:
                    why = _why_missing(e, download, "no photo set on this machine")
                    print(fallback_banner(f"no held-out photo set: using the {len(photos)} "
                                          "sample photos instead", why,
                                          "set DOWNLOAD = True (needs internet; Imagenette, "
                                          "checksum-verified), or COLORLAB_PHOTOS_DIR to a folder "
                                          "of colour photos"))
    if verbose:
        print(f"photos: {source}, {len(photos)} photos")
    return photos, source


def _why_missing(error: Exception, download: bool, missing: str) -> str:
    """The reason a fallback banner gives: the failed download, or what is missing here."""
    if download:
        return f"the download failed ({str(error).splitlines()[0]})"
    return f"{missing} and DOWNLOAD is off"


def fallback_banner(what: str, why: str, fix: str) -> str:
    """A loud multi-line notice that a lesson runs on stand-in data and its numbers will differ."""
    rule = "!" * 78
    return "\n".join([rule, f"!! {what}", f"!! why: {why}",
                      "!! The numbers below will NOT match the lesson's text, and the training and",
                      "!! test images are the same few photos, so no score here is held-out.",
                      f"!! to fix: {fix}", rule])


def course_dataset(split: str = "test", size: int = 32, limit: int | None = None,
                   download: bool | None = None, verbose: bool = True):
    """The data the lessons measure on: CIFAR-10 when it can be had, else the offline sample photos.

    Tries the local JPEG copy (:func:`local_cifar10`), then torchvision's CIFAR-10 (downloaded,
    checksum-verified, when ``download`` is true; ``None`` means "in Colab", a fresh machine where
    nothing else could be there), then falls back to :func:`colorlab.data.sample_photos` with a
    loud :func:`fallback_banner`.

    Returns
    -------
    (LabDataset, str) : the dataset, and a description of where it came from.
    """
    from .data import DatasetNotFoundError, load_dataset
    from .download import OfflineError

    if download is None:
        download = in_colab()
    folder = local_cifar10()
    if folder is not None:
        ds, source = (load_dataset(f"folder:{folder}", split=split, size=size, limit=limit),
                      f"CIFAR-10 {split} split")
    else:
        try:
            ds = load_dataset("cifar10", split=split, size=size, limit=limit, download=download)
            source = f"CIFAR-10 {split} split (torchvision)"
        except (DatasetNotFoundError, OfflineError) as e:
            ds, source = (load_dataset("samples", size=size),
                          "the sample photos (CIFAR-10 not available)")
            if verbose:
                why = _why_missing(e, download, "CIFAR-10 is not on this machine")
                print(fallback_banner(f"CIFAR-10 {split} split not found: using the "
                                      f"{len(ds)} sample photos instead", why,
                                      "set DOWNLOAD = True in the parameters cell (needs "
                                      "internet, 163 MB, checksum-verified), or set "
                                      "COLORLAB_CIFAR10_DIR to a folder of the JPEGs"))
    if verbose:
        print(f"data: {source}, {len(ds)} images at {size}x{size}")
    return ds, source


_BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+?/blob/[^/)\s]+/"
                       r"(lessons/[^)\s]+\.ipynb)")


_CLONE_RE = re.compile(r"git clone https://github\.com/[\w.-]+/[\w.-]+?\.git && cd [\w.-]+")
_REPO_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?/[A-Za-z0-9._-]+")


def clone_command(repo: str = REPO) -> str:
    """``git clone https://github.com/OWNER/NAME.git && cd NAME``: how a learner gets the course."""
    return f"git clone https://github.com/{repo}.git && cd {repo.split('/')[-1]}"


def set_repo(repo: str, branch: str = BRANCH, root: str | Path = ".") -> list[str]:
    """Point the course at GitHub ``repo`` (``OWNER/NAME``) and ``branch``; return changed files.

    Rewrites :data:`REPO` and :data:`BRANCH` in ``root/colorlab/course.py`` (the one place the
    address lives), then :func:`sync` regenerates every Colab badge, lesson set-up cell and the
    README's clone command from them. Run it in the repository's root, commit, push; the badges
    then open your copy in Colab and its set-up cells install colorlab from it.

    Raises
    ------
    ValueError
        ``repo`` is not ``OWNER/NAME`` or ``branch`` is empty or holds spaces.
    FileNotFoundError
        ``root`` holds no ``colorlab/course.py`` (run it from the repository's root).
    """
    if not _REPO_NAME_RE.fullmatch(repo or ""):
        raise ValueError(f"set-repo: expected a GitHub OWNER/NAME such as 'my-school/colorlab', "
                         f"got {repo!r}")
    if not branch or any(c.isspace() for c in branch):
        raise ValueError(f"set-repo: not a branch name: {branch!r}")
    root = Path(root)
    course = root / "colorlab" / "course.py"
    if not course.is_file():
        raise FileNotFoundError(f"{course}: not found; run set-repo from the repository's root "
                                "(the folder holding colorlab/ and lessons/)")
    text = course.read_text(encoding="utf-8")
    new = re.sub(r'^REPO = "[^"]*"', f'REPO = "{repo}"', text, count=1, flags=re.M)
    new = re.sub(r'^BRANCH = "[^"]*"', f'BRANCH = "{branch}"', new, count=1, flags=re.M)
    changed = []
    if new != text:
        course.write_text(new, encoding="utf-8")
        changed.append("colorlab/course.py")
    return changed + sync(root, repo, branch)


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
        new = _CLONE_RE.sub(clone_command(repo), new)
        if new != text:
            readme.write_text(new, encoding="utf-8")
            changed.append("README.md")
    return changed


def main(argv=None) -> int:
    """``python -m colorlab.course {set-repo OWNER/NAME, sync} [--branch B] [--root DIR]``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m colorlab.course",
        description="Point the course's Colab badges, set-up cells and clone commands at a "
                    "repository (set-repo), or regenerate them from colorlab/course.py (sync).")
    parser.add_argument("command", choices=["set-repo", "sync"])
    parser.add_argument("repo", nargs="?", default=None, help="set-repo: GitHub OWNER/NAME")
    parser.add_argument("--branch", default=BRANCH, help=f"default {BRANCH}")
    parser.add_argument("--root", default=".", help="the repository's root (default: here)")
    args = parser.parse_args(argv)
    try:
        if args.command == "set-repo":
            if args.repo is None:
                parser.error("set-repo needs OWNER/NAME")
            changed = set_repo(args.repo, args.branch, args.root)
        else:
            changed = sync(args.root, args.repo or REPO, args.branch)
    except (ValueError, FileNotFoundError) as e:
        print(f"python -m colorlab.course: error: {e}", file=sys.stderr)
        return 1
    for name in changed or ["nothing to change"]:
        print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The widgets driven in a real browser (issue 6, part 4).

A private JupyterLab server (127.0.0.1, free port, token, temporary root and Jupyter dirs, a kernel
that is this Python with this checkout on its path) serves a small notebook with a
``ModelComparison`` of two shipped models and a ``TuringTest``. Headless Chromium, driven by
Playwright for Python, opens it, runs all cells through the Run menu, then works the widgets as a
learner would: it clicks a model in the list, moves the temperature slider with the keyboard and
clicks an answer in the Turing test. The assertions read what the browser shows: the PNG data behind
each rendered ``<img>`` (fetched by the page from its blob URL), element screenshots of the model
panel as painted, and the text of the panel titles, the slider readout and the score; and that each
widget stays one output, updated in place.

Run it alone with ``python -m pytest -m browser tests/test_browser.py`` (about 30 s). It needs
Playwright (``pip install playwright``) and a Chromium on PATH (Debian:
``apt-get install chromium``); Playwright's own browser download is never used. Without either it
skips and says why (with ``CI`` set it fails instead: CI must not pass by skipping it). Every wait
is bounded by the module's budget (``COLORLAB_BROWSER_TIMEOUT``, 180 s by default); past it a
watchdog kills the server, and a minute later interrupts pytest, so CI never hangs. The server and
its kernel are stopped in the fixture's teardown whatever happens.
"""
from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
# whole module, seconds
BROWSER_TEST_TIMEOUT = float(os.environ.get("COLORLAB_BROWSER_TIMEOUT", "180"))
KERNEL_NAME = "colorlab-browser-test"
KERNEL_DISPLAY_NAME = "colorlab test (this Python)"
MODELS = ["mse", "class-rebal"]  # two shipped checkpoints; the second decodes with a temperature

NOTEBOOK_CELLS = [
    # 0: set-up
    "from colorlab.data import sample_photos\n"
    "from colorlab.widgets import ModelComparison, TuringTest\n"
    "photos = sample_photos()\n"
    "first = sorted(photos)[0]",
    # 1: the comparison, one sample photo
    f"comparison = ModelComparison({MODELS!r}, images={{first: photos[first]}})\n"
    "comparison",
    # 2: the Turing test
    f"turing = TuringTest({MODELS!r}, images=photos, seed=0)\n"
    "turing",
]

# JupyterLab settings that keep the page quiet and every cell in the DOM.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


class Deadline:
    """The module's time budget: every wait takes at most what is left of it."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def ms(self, cap_s: float) -> float:
        """A Playwright timeout (ms): at most ``cap_s`` and at most what is left, never
        below 1 s."""
        return 1000 * max(1.0, min(cap_s, self.left()))


def _missing(why: str):
    """Skip saying ``why``; under CI (``CI`` set) fail instead, so CI cannot pass by skipping."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {why}: .ci/run installs them, so this is a broken CI set-up")
    pytest.skip(why)


def _requirements() -> str:
    """The Chromium executable, or skip the module saying what is missing (fail under CI)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("browser test needs Playwright for Python: pip install playwright")
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        _missing("browser test needs Chromium on PATH (Debian: apt-get install chromium); "
                 "Playwright's own browser download is not used")
    for module in ("jupyterlab", "ipykernel", "ipywidgets"):
        try:
            __import__(module)
        except ImportError:
            _missing(f"browser test needs {module}")
    return exe


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path: Path):
    cells = [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}", "metadata": {},
              "outputs": [], "source": src} for i, src in enumerate(NOTEBOOK_CELLS)]
    nb = {"cells": cells, "nbformat": 4, "nbformat_minor": 5,
          "metadata": {"kernelspec": {"name": KERNEL_NAME, "display_name": KERNEL_DISPLAY_NAME,
                                      "language": "python"},
                       "language_info": {"name": "python"}}}
    path.write_text(json.dumps(nb, indent=1))


def _jupyter_env(tmp: Path) -> dict:
    """Jupyter's and IPython's dirs all under ``tmp``; no user or system config is read."""
    dirs = {"JUPYTER_CONFIG_DIR": "config", "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime", "IPYTHONDIR": "ipython",
            "JUPYTERLAB_SETTINGS_DIR": "lab-settings",
            "JUPYTERLAB_WORKSPACES_DIR": "lab-workspaces"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    for var, name in dirs.items():
        (tmp / name).mkdir(parents=True, exist_ok=True)
        env[var] = str(tmp / name)
    env["JUPYTER_NO_CONFIG"] = "1"
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.setdefault("OMP_NUM_THREADS", "1")
    # The kernel: exactly this interpreter (so its ipykernel, torch and colorlab), this checkout on
    # its path.
    spec = tmp / "data" / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": KERNEL_DISPLAY_NAME, "language": "python",
        "env": {"PYTHONPATH": env["PYTHONPATH"]}}))
    for rel, values in LAB_SETTINGS.items():
        target = tmp / "lab-settings" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    return env


def _kill_group(proc: subprocess.Popen, grace: float = 8.0):
    """SIGTERM the server's process group (it shuts its kernels down), then SIGKILL what is left."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=grace)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers (kernels) share the group
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _start_lab(tmp: Path, deadline: Deadline):
    """Start JupyterLab in ``tmp/root``; returns (process, base url, token, log path)."""
    root = tmp / "root"
    root.mkdir()
    _write_notebook(root / "widgets.ipynb")
    env = _jupyter_env(tmp)
    token = secrets.token_hex(16)
    log = tmp / "jupyter.log"
    for _attempt in range(3):  # another process may take the free port between probe and bind
        port = _free_port()
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
               f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
               "--LabApp.news_url=", "--ServerApp.terminals_enabled=False"]
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + min(90.0, max(1.0, deadline.left()))
        while time.monotonic() < end and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        return proc, url, token, log
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        _kill_group(proc)
        if time.monotonic() >= end:
            break
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    raise RuntimeError(f"JupyterLab did not start; its log ends with:\n{tail}")


class Page:
    """The notebook page, with helpers that read what the browser renders."""

    def __init__(self, page, deadline: Deadline, tmp: Path):
        self.page, self.deadline, self.tmp = page, deadline, tmp

    def output(self, cell: int):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-OutputArea")

    def image_data(self, locator) -> list[bytes]:
        """The bytes behind each ``<img>`` in ``locator``, fetched from their (blob) URLs by the
        page."""
        b64 = locator.locator("img").evaluate_all(
            """async imgs => Promise.all(imgs.map(async img => {
                   const buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
                   let s = ""; for (let i = 0; i < buf.length; i += 8192)
                       s += String.fromCharCode.apply(null, buf.subarray(i, i + 8192));
                   return btoa(s); }))""")
        return [base64.b64decode(x) for x in b64]

    def srcs(self, locator) -> list[str]:
        return locator.locator("img").evaluate_all("imgs => imgs.map(i => i.src)")

    def wait(self, js: str, arg=None, cap_s: float = 60.0, what: str = ""):
        """Wait until ``js`` returns something truthy, and return that."""
        try:
            return self.page.wait_for_function(js, arg=arg, timeout=self.deadline.ms(cap_s),
                                               polling=200).json_value()
        except Exception as exc:  # say what was awaited and what the page showed
            raise AssertionError(f"browser: timed out waiting for {what or js}\n"
                                 f"{self.diagnose()}") from exc

    def diagnose(self) -> str:
        """A screenshot of the page (path given) and the text of every cell's output."""
        shot = self.tmp / f"failure-{int(time.time() * 1000)}.png"
        try:
            self.page.screenshot(path=str(shot), timeout=10_000)
            outputs = self.page.locator(".jp-Notebook .jp-Cell .jp-OutputArea").all_inner_texts()
        except Exception as exc:  # the page itself may be gone
            return f"(no diagnostics: {exc})"
        return f"screenshot: {shot}\ncell outputs: {outputs}"


def _pixels(png: bytes):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _differ(a: bytes, b: bytes, min_mean_abs: float = 1.0) -> bool:
    """Decoded images differ in size, or by at least ``min_mean_abs`` per channel on average."""
    pa, pb = _pixels(a), _pixels(b)
    return pa.shape != pb.shape or float(abs(pa - pb).mean()) >= min_mean_abs


@pytest.fixture(scope="module")
def notebook(tmp_path_factory):
    """JupyterLab with the notebook open in headless Chromium, all cells run, widgets rendered."""
    exe = _requirements()
    from playwright.sync_api import sync_playwright

    deadline = Deadline(BROWSER_TEST_TIMEOUT)
    tmp = tmp_path_factory.mktemp("browser")
    procs: list[subprocess.Popen] = []
    done = threading.Event()

    def watchdog():
        """Past the budget, kill the server (its kernels follow), so every pending wait fails fast;
        if the module is still not done a minute later, interrupt pytest rather than hang CI."""
        if done.wait(BROWSER_TEST_TIMEOUT + 30):
            return
        for p in procs:
            _kill_group(p, grace=1)
        if not done.wait(60):
            sys.stderr.write("test_browser: still stuck past its time budget; interrupting\n")
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watchdog, name="browser-test-watchdog", daemon=True).start()
    try:
        proc, url, token, log = _start_lab(tmp, deadline)
        procs.append(proc)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=exe, headless=True, timeout=deadline.ms(60),
                args=["--disable-dev-shm-usage", "--disable-gpu", "--no-first-run"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1600})
                page.set_default_timeout(deadline.ms(60))
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"{url}/lab/tree/widgets.ipynb?token={token}", timeout=deadline.ms(90))
                nb = Page(page, deadline, tmp)
                nb.wait("() => document.querySelectorAll('.jp-Notebook .jp-Cell').length >= 3",
                        cap_s=90, what="the notebook to open")
                # The status bar names the kernel and says Idle once it is connected (the toolbar's
                # indicator reads idle before any kernel exists, and a run then does nothing).
                nb.wait("name => document.querySelector('.jp-StatusBar-Widget')"
                        "?.textContent.includes(name + ' | Idle')", arg=KERNEL_DISPLAY_NAME,
                        cap_s=90, what="the kernel to be connected and idle")
                # Run > Run All Cells, through the menu as a learner would.
                page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                nb.wait("() => [...document.querySelectorAll('.jp-Notebook .jp-InputArea-prompt')]"
                        ".every(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))", cap_s=30,
                        what="every cell to be queued or run")
                # Both widgets drawn (4 panels, 2 pictures), or stop early at an error or warning.
                state = nb.wait("""() => {
                    if (document.querySelector('.jp-Notebook .jp-OutputArea-output'
                            + '[data-mime-type="application/vnd.jupyter.stderr"]'))
                        return 'error';
                    const cells = document.querySelectorAll('.jp-Notebook .jp-Cell');
                    const imgs = i => [...cells[i].querySelectorAll('.jp-OutputArea img')];
                    const ready = (i, n) => imgs(i).length === n
                        && imgs(i).every(x => x.src.startsWith('blob:') && x.complete
                                         && x.naturalWidth > 0);
                    return ready(1, 4) && ready(2, 2) && 'ready'; }""",
                                cap_s=150, what="both widgets to render their images")
                assert state == "ready", f"a cell wrote an error or warning:\n{nb.diagnose()}"
                yield nb
                assert not errors, f"JavaScript errors on the page: {errors}"
            finally:
                browser.close()
    except BaseException:
        if (tmp / "jupyter.log").exists():
            tail = (tmp / "jupyter.log").read_text(errors="replace")[-4000:]
            sys.stderr.write(f"---- jupyter log (tail) ----\n{tail}\n")
        raise
    finally:
        done.set()
        for p in procs:
            _kill_group(p)


# The comparison has settled: these panel titles, one loaded <img> each, and (if given) the model
# panel's image URL differs from ``old`` (every new image gets a new blob: URL).
SETTLED_JS = """([el, titles, old]) => {
    const names = [...el.querySelectorAll('.widget-html b')].map(b => b.textContent);
    const imgs = [...el.querySelectorAll('img')];
    return names.join('|') === titles.join('|') && imgs.length === titles.length
        && imgs.every(i => i.src.startsWith('blob:') && i.complete && i.naturalWidth > 0)
        && (old === null || imgs[1].src !== old);
}"""


def test_model_comparison_reacts_to_model_and_temperature(notebook):
    nb = notebook
    out = nb.output(1)
    titles = ["grey input", *MODELS, "ground truth"]
    nb.wait(SETTLED_JS, arg=[out.element_handle(), titles, None], what=f"panels {titles}")
    # the widget and nothing else
    assert out.locator(".jp-OutputArea-output").count() == 1, out.inner_text()
    before = nb.image_data(out)
    shot_before = out.locator("img").nth(1).screenshot()  # the mse panel as painted

    # The model: a plain click on "class-rebal" in the models list selects it alone.
    out.locator("select option", has_text="class-rebal").click()
    titles = ["grey input", "class-rebal", "ground truth"]
    nb.wait(SETTLED_JS, arg=[out.element_handle(), titles, None], what=f"panels {titles}")
    after_model = nb.image_data(out)
    assert out.locator(".jp-OutputArea-output").count() == 1  # updated in place, nothing appended
    # grey input and truth unchanged
    assert after_model[0] == before[0] and after_model[2] == before[3]
    assert after_model[1] == before[2]  # the class-rebal panel as it was, now second
    assert _differ(before[1], after_model[1]), ("the model panel shows the same picture for mse "
                                                "and class-rebal")
    shot_model = out.locator("img").nth(1).screenshot()
    assert _differ(shot_before, shot_model), "the painted model panel did not change"

    # The temperature: focus the slider's handle and press Home, T to its minimum (0.01).
    src_before = nb.srcs(out)[1]
    handle = out.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("Home")
    nb.wait(SETTLED_JS, arg=[out.element_handle(), titles, src_before],
            what="the class-rebal panel to redraw after moving T")
    nb.wait("el => el.textContent.includes('T = 0.01')", arg=out.element_handle(),
            what="the status T = 0.01")
    assert out.locator(".widget-readout").first.inner_text().strip() == "0.01"
    after_t = nb.image_data(out)
    assert out.locator(".jp-OutputArea-output").count() == 1
    # T touches the model panel only
    assert after_t[0] == after_model[0] and after_t[2] == after_model[2]
    assert _differ(after_model[1], after_t[1]), ("moving T did not change the class-rebal "
                                                 "colourisation")
    assert _differ(shot_model, out.locator("img").nth(1).screenshot()), (
        "the painted panel did not change with T")


def test_turing_test_counts_a_click(notebook):
    nb = notebook
    out = nb.output(2)
    score = out.locator(".widget-html").last
    assert "answers: 0" in score.inner_text() and "0/0" in score.inner_text()
    assert out.locator(".jp-OutputArea-output").count() == 1 and out.locator("img").count() == 2
    before, srcs = nb.image_data(out), nb.srcs(out)
    out.get_by_role("button", name="left is real").click()
    nb.wait("el => el.textContent.includes('answers: 1')", arg=score.element_handle(),
            what="the Turing test to count one answer")
    text = score.inner_text()
    # the round's model has one round now, fooled or not
    assert "1/1" in text or "0/1" in text, text
    nb.wait("([el, old]) => { const imgs = [...el.querySelectorAll('img')]; return imgs.length"
            " === 2 && imgs.every((i, k) => i.src !== old[k] && i.complete"
            " && i.naturalWidth > 0); }",
            arg=[out.element_handle(), srcs], what="the next round's pictures")
    assert out.locator(".jp-OutputArea-output").count() == 1  # the same widget, updated in place
    after = nb.image_data(out)
    assert all(_differ(a, b) for a, b in zip(before, after)), ("the next round shows the same "
                                                               "pictures")

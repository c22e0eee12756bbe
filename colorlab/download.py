"""Resumable, checksum-verified, atomic file downloads, with a clear message when offline.

:func:`download` is the one way colorlab fetches a file (weights, dataset archives):

- it writes into ``DEST.part`` and resumes it with an HTTP ``Range`` request after an interruption
  (a server that ignores ``Range`` makes it restart from zero, cleanly);
- it verifies the SHA-256 of the result; a wrong checksum is refused and nothing is left behind;
- only a verified file is renamed (``os.replace``, atomic) to ``DEST``, so ``DEST`` is either absent
  or complete and correct;
- without network it fails at once with :class:`OfflineError`, which says what to do instead.

Every loop is bounded: at most ``retries + 1`` requests, each read until the body ends.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

__all__ = ["DownloadError", "ChecksumError", "OfflineError", "download", "sha256sum",
           "check_online"]

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download failed (HTTP error, connection lost too often, bad size)."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected SHA-256; the file was deleted."""


class OfflineError(DownloadError, ConnectionError):
    """The host cannot be reached (no network, DNS failure, refused connection)."""


def sha256sum(path, chunk_size: int = _CHUNK) -> str:
    """Hex SHA-256 of a file, read in chunks.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    digest : str of 64 hex characters

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "x")
    >>> with open(p, "wb") as f:
    ...     _ = f.write(b"abc")
    >>> sha256sum(p)[:16]
    'ba7816bf8f01cfea'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_size), b""):
            h.update(block)
    return h.hexdigest()


def _offline_message(url: str, err, instead: str | None, dest=None) -> str:
    host = urlparse(url).hostname or url
    msg = (f"cannot reach {host} to download {url} ({err}). You seem to be offline, or the host is "
           f"blocked here. Instead: ")
    msg += instead or "run this on a machine with internet access"
    if dest is not None:
        msg += f"; or download the file elsewhere and copy it to {dest}"
    return msg + "."


def check_online(url: str, timeout: float = 3.0, instead: str | None = None) -> None:
    """Fail fast with :class:`OfflineError` if the host of ``url`` cannot be reached.

    Opens (and closes) one TCP connection to the host's port, so an offline machine learns it
    within ``timeout`` seconds instead of after a long download stall.

    Parameters
    ----------
    url : str
        Any http(s) URL; only host and port are used.
    timeout : float
        Seconds to wait for the connection.
    instead : str, optional
        What the user can do instead; appended to the message.

    Raises
    ------
    OfflineError

    Examples
    --------
    >>> check_online("http://127.0.0.1:9/x", timeout=0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    colorlab.download.OfflineError: cannot reach 127.0.0.1 ...
    """
    u = urlparse(url)
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        with socket.create_connection((u.hostname, port), timeout=timeout):
            pass
    except OSError as e:
        raise OfflineError(_offline_message(url, e, instead)) from None


def _open(url: str, start: int, timeout: float):
    headers = {"User-Agent": "colorlab"}
    if start:
        headers["Range"] = f"bytes={start}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _fetch_once(url: str, part: Path, timeout: float, chunk_size: int, progress) -> bool:
    """One request: resume ``part`` if the server honours Range, else restart. True if the body
    ended."""
    start = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, start, timeout)
    except urllib.error.HTTPError as e:
        e.close()
        if e.code == 416 and start:  # our .part is at/after the end: its bytes are suspect, restart
            part.unlink()
            return False
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from None
    with resp:
        resumed = start and resp.status == 206 and resp.headers.get("Content-Range", "").startswith(
            f"bytes {start}-")
        mode = "ab" if resumed else "wb"  # 200 to a Range request: the server restarts from byte 0
        length = resp.headers.get("Content-Length")
        expected = (int(length) + (start if resumed else 0)) if length is not None else None
        with open(part, mode) as f:
            for block in iter(lambda: resp.read(chunk_size), b""):
                f.write(block)
                if progress is not None:
                    progress(f.tell(), expected)
            f.flush()
            os.fsync(f.fileno())
    size = part.stat().st_size
    return expected is None or size == expected


def download(url: str, dest, sha256: str | None, *, timeout: float = 30.0, retries: int = 3,
             chunk_size: int = _CHUNK, progress=None, instead: str | None = None) -> Path:
    """Download ``url`` to ``dest``: resumable, SHA-256 verified, atomic.

    Parameters
    ----------
    url : str
        http(s) URL.
    dest : str or os.PathLike
        Final file path. If it already exists with the right checksum nothing is downloaded. Parent
        folders are created. Bytes in flight go to ``dest + ".part"``.
    sha256 : str or None
        Expected hex SHA-256, or a prefix of it of at least 8 hex digits (the torch.hub convention
        of a hash prefix in the file name). ``None`` skips verification (not recommended).
    timeout : float
        Socket timeout in seconds for each request.
    retries : int
        Extra requests allowed after a connection drops mid-body (each resumes the ``.part`` file).
    chunk_size : int
        Bytes per read.
    progress : callable(done_bytes, total_bytes_or_None), optional
        Called after every chunk.
    instead : str, optional
        What to do when offline; goes into the :class:`OfflineError` message.

    Returns
    -------
    dest : pathlib.Path

    Raises
    ------
    ValueError
        ``sha256`` is not 8 to 64 hex digits.
    ChecksumError
        The bytes do not match ``sha256``; neither ``dest`` nor ``dest.part`` is left behind.
    OfflineError
        The host cannot be reached; the message says what to do instead.
    DownloadError
        HTTP errors, or the body kept being cut short after ``retries`` resumes.

    Examples
    --------
    >>> download("https://example.org/w.pt", "cache/w.pt", "ab12...")  # doctest: +SKIP
    PosixPath('cache/w.pt')
    """
    dest = Path(dest)
    want = sha256.lower() if sha256 else None
    if want is not None and not (8 <= len(want) <= 64
                                 and all(ch in "0123456789abcdef" for ch in want)):
        raise ValueError("download: sha256 must be 8 to 64 hex digits (a SHA-256 or its prefix), "
                         f"got {sha256!r}")
    if dest.is_file():
        if want is None or sha256sum(dest).startswith(want):
            return dest
        dest.unlink()  # a stale or corrupt file: never serve it
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    restarted, drops = False, 0
    # bounded: each pass returns, raises, counts a drop or restarts once
    for _ in range(retries + 2):
        resumed_from = part.stat().st_size if part.exists() else 0
        try:
            complete = _fetch_once(url, part, timeout, chunk_size, progress)
        except urllib.error.URLError as e:  # could not connect at all
            raise OfflineError(_offline_message(url, e.reason, instead, dest)) from None
        except (OSError, http.client.HTTPException):  # dropped mid-body: resume on the next pass
            complete = False
        if not complete:
            drops += 1
            if drops > retries:
                break
            continue
        got = sha256sum(part)
        if want is None or got.startswith(want):
            os.replace(part, dest)
            return dest
        part.unlink()
        if resumed_from and not restarted:  # the old .part may have been bad: one clean restart
            restarted = True
            continue
        raise ChecksumError(f"{url}: SHA-256 mismatch (expected {want}, got {got}); "
                            f"the download was deleted and not cached at {dest}")
    raise DownloadError(f"{url}: the connection kept dropping ({drops} times); the partial file "
                        f"{part} is kept, so calling download() again resumes it")

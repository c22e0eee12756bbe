"""colorlab.download against a local HTTP server on 127.0.0.1 (no external hosts)."""
import hashlib
import http.server
import os
import socket
import threading
import time

import pytest

from colorlab.download import (
    ChecksumError,
    DownloadError,
    OfflineError,
    check_online,
    download,
    sha256sum,
)

PAYLOAD = os.urandom(200_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "colorlab-test"

    def log_message(self, *args):
        pass

    def do_GET(self):
        cfg = self.server.cfg
        cfg["requests"].append(dict(self.headers))
        # .pth: the same bytes, as weights
        if self.path != "/file.bin" and not self.path.endswith(".pth"):
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and cfg["ranges"]:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(PAYLOAD):
                self.send_response(416)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if cfg["drops"] > 0:  # promise the whole body, send part of it, hang up
            cfg["drops"] -= 1
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.cfg = {"requests": [], "ranges": True, "drops": 0}
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _ranges(httpd):
    return [r.get("Range") for r in httpd.cfg["requests"]]


def test_download_verifies_and_renames_atomically(server, tmp_path):
    httpd, url = server
    seen = []
    dest = download(url, tmp_path / "sub" / "file.bin", SHA, timeout=5, chunk_size=50_000,
                    progress=lambda done, total: seen.append((done, total)))
    assert dest.read_bytes() == PAYLOAD and sha256sum(dest) == SHA
    assert [p.name for p in dest.parent.iterdir()] == ["file.bin"]  # no .part left
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(seen) == 4
    download(url, dest, SHA.upper(), timeout=5)  # already there: no second request
    assert len(httpd.cfg["requests"]) == 1


def test_wrong_checksum_is_refused_and_not_cached(server, tmp_path):
    httpd, url = server
    dest = tmp_path / "file.bin"
    with pytest.raises(ChecksumError, match="SHA-256 mismatch") as info:
        download(url, dest, "0" * 64, timeout=5)
    assert SHA in str(info.value) and url in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_stale_destination_with_wrong_content_is_replaced(server, tmp_path):
    _, url = server
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"stale")
    assert download(url, dest, SHA, timeout=5).read_bytes() == PAYLOAD


def test_partial_download_resumes_with_range(server, tmp_path):
    httpd, url = server
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:120_000])
    download(url, dest, SHA, timeout=5)
    assert dest.read_bytes() == PAYLOAD and _ranges(httpd) == ["bytes=120000-"]


def test_server_without_range_restarts_cleanly(server, tmp_path):
    httpd, url = server
    httpd.cfg["ranges"] = False
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD[:120_000])
    download(url, dest, SHA, timeout=5)
    # 200: rewritten, not appended
    assert dest.read_bytes() == PAYLOAD and len(httpd.cfg["requests"]) == 1


def test_corrupt_partial_file_restarts_once(server, tmp_path):
    httpd, url = server
    dest = tmp_path / "file.bin"
    # wrong bytes: resume gives a bad checksum
    (tmp_path / "file.bin.part").write_bytes(b"\0" * 50_000)
    download(url, dest, SHA, timeout=5)
    assert dest.read_bytes() == PAYLOAD and _ranges(httpd) == ["bytes=50000-", None]


def test_oversized_partial_file_restarts(server, tmp_path):
    httpd, url = server
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD + b"junk")
    assert download(url, tmp_path / "file.bin", SHA, timeout=5).read_bytes() == PAYLOAD
    assert _ranges(httpd) == [f"bytes={len(PAYLOAD) + 4}-", None]  # 416, then from zero


def test_dropped_connection_resumes(server, tmp_path):
    httpd, url = server
    httpd.cfg["drops"] = 2
    dest = download(url, tmp_path / "file.bin", SHA, timeout=5, retries=3)
    assert dest.read_bytes() == PAYLOAD
    first = len(PAYLOAD) // 3
    second = first + (len(PAYLOAD) - first) // 3
    assert _ranges(httpd) == [None, f"bytes={first}-", f"bytes={second}-"]


def test_connection_that_keeps_dropping_gives_up_and_keeps_part(server, tmp_path):
    httpd, url = server
    httpd.cfg["drops"] = 100
    with pytest.raises(DownloadError, match="kept dropping"):
        download(url, tmp_path / "file.bin", SHA, timeout=5, retries=2)
    assert len(httpd.cfg["requests"]) == 3
    part = tmp_path / "file.bin.part"
    assert part.exists() and PAYLOAD.startswith(part.read_bytes())
    assert not (tmp_path / "file.bin").exists()


def test_http_error_is_not_reported_as_offline(server, tmp_path):
    _, url = server
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        download(url.replace("file.bin", "missing"), tmp_path / "x", SHA, timeout=5)
    assert not isinstance(info.value, OfflineError) and list(tmp_path.iterdir()) == []


def test_offline_fails_at_once_and_says_what_to_do(tmp_path, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError(101, "Network is unreachable")
    monkeypatch.setattr(socket, "create_connection", unreachable)
    t = time.perf_counter()
    with pytest.raises(OfflineError) as info:
        download("https://example.org/weights.pt", tmp_path / "w.pt", SHA,
                 instead='use pretrained("mse") which ships with colorlab')
    msg = str(info.value)
    assert ("example.org" in msg and "offline" in msg and 'pretrained("mse")' in msg
            and str(tmp_path) in msg)
    with pytest.raises(OfflineError, match="example.org"):
        check_online("https://example.org/x")
    assert time.perf_counter() - t < 3.0 and list(tmp_path.iterdir()) == []


def test_closed_port_is_offline(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(OfflineError, match="127.0.0.1"):
        download(f"http://127.0.0.1:{port}/f", tmp_path / "f", SHA, timeout=2)


def test_weights_with_a_wrong_hash_are_refused_and_not_cached(server, tmp_path, monkeypatch):
    from colorlab.models import CheckpointError, load_eccv16
    _, url = server
    monkeypatch.setenv("COLORLAB_CACHE", str(tmp_path))
    with pytest.raises(ChecksumError, match="SHA-256 mismatch.*not cached"):
        # torch.hub style: hash prefix in the name
        load_eccv16(url.replace("file.bin", "eccv16-00000000.pth"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    # the right hash, but random bytes, not weights
    right = url.replace("file.bin", f"eccv16-{SHA[:8]}.pth")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_eccv16(right)
    cached = tmp_path / "weights" / f"eccv16-{SHA[:8]}.pth"
    assert cached.read_bytes() == PAYLOAD and [p for p in tmp_path.rglob("*")
                                               if p.is_file()] == [cached]
    with pytest.raises(ValueError, match="8 to 64 hex digits"):
        download(url, tmp_path / "x", "abc")

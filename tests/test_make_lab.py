"""`make lab`: the command line it builds starts JupyterLab, as root too (with --allow-root,
said aloud), and prints the URL that serves lesson 00. The server is stopped afterwards."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # starts JupyterLab: make test-integration

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_command(port: int) -> str:
    """The shell script `make lab` runs, with this environment's Python and no install step."""
    venv = Path(sys.executable).parent.parent
    make = ["make", "-s", "-n", "lab", f"VENV={venv}", "INSTALLED=", f"LAB_PORT={port}"]
    make.append("LAB_ARGS=--no-browser")
    return subprocess.run(make, cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_lab_serves_lesson_00_at_the_url_it_prints():
    port = free_port()
    server = subprocess.Popen(
        ["sh", "-c", lab_command(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so the whole group can be stopped
    )
    served = None
    try:
        said = [server.stdout.readline(), server.stdout.readline()]
        if os.geteuid() == 0:
            assert "running as root: JupyterLab needs --allow-root" in said.pop(0)
        (url,) = re.findall(r"open (http://\S+)", said[0])
        # JupyterLab serves the folder of the file it is given: notebooks/ is its root.
        assert url.startswith(f"http://localhost:{port}/lab/tree/00_welcome.ipynb?token=")
        deadline = time.monotonic() + 300  # JupyterLab starts in seconds, on a busy CI minutes
        while served is None and server.poll() is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=10) as page:
                    served = page.status, page.read().decode()
            except OSError:
                time.sleep(1)
        if served is not None:
            token = url.split("token=")[1]
            api = f"http://localhost:{port}/api/contents?token={token}"
            with urllib.request.urlopen(api, timeout=10) as reply:
                listed = {item["name"] for item in json.load(reply)["content"]}
            assert {"00_welcome.ipynb", "07_seeing_attention.ipynb", "student"} <= listed
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log = server.stdout.read()
        server.stdout.close()
    assert served is not None, f"JupyterLab did not serve {url}; it said:\n{log[-3000:]}"
    assert served[0] == 200 and "JupyterLab" in served[1]

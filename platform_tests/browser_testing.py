"""Shared by the browser tests: headless Chromium driven over the DevTools protocol, and a real Dagster webserver
on a free port against a given DAGSTER_HOME."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from lakehouse.dev.ports import free_port

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,1000", "--virtual-time-budget=20000"]


class DevTools:
    """Just enough of the Chrome DevTools protocol: call a method, evaluate JavaScript, wait for a condition."""

    def __init__(self, url: str):
        from websockets.sync.client import connect

        self.socket = connect(url, max_size=None, open_timeout=30)
        self.last = 0

    def call(self, method: str, **params) -> dict:
        self.last += 1
        self.socket.send(json.dumps({"id": self.last, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == self.last:  # events in between are not ours
                assert "error" not in message, message["error"]
                return message["result"]

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 30):
        deadline = time.monotonic() + timeout
        while not (value := self.js(expression)):
            assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
            time.sleep(0.1)
        return value


@contextmanager
def chromium(tmp_path) -> Iterator[DevTools]:
    profile = tmp_path / "profile"
    flags = [f for f in FLAGS if not f.startswith("--virtual-time-budget")]  # real time: we wait for the page
    process = subprocess.Popen([CHROMIUM, *flags, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (profile / "DevToolsActivePort").exists() or not (profile / "DevToolsActivePort").read_text():
            assert process.poll() is None and time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = (profile / "DevToolsActivePort").read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        tools = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        try:
            yield tools
        finally:
            tools.socket.close()
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def dagster_webserver(env: dict[str, str]) -> Iterator[str]:
    """`dagster-webserver` over the repo's workspace on a free port, with `env` (DAGSTER_HOME, LAKEHOUSE_*); its
    URL once it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1",
                             "-p", str(port)], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{url}/server_info", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, "dagster-webserver exited during start-up"
                time.sleep(1)
        else:
            pytest.fail("dagster-webserver did not answer within 120 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def graphql(url: str, query: str) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(request, timeout=60).read())["data"]


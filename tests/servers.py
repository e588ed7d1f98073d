"""Start real helpline server processes (gunicorn, as deployed) for tests and benchmarks."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The test app's key for what it keeps encrypted (TOTP secrets): servers and commands read what
# tests seal.
ENCRYPTION_KEY = "aGVscGxpbmUtdGVzdHMtZW5jcnlwdGlvbi1rZXktMzI="


def refuse_in_fast_run(what: str) -> None:
    """`make test-fast` leaves out the tests marked slow; one that starts `what` unmarked fails
    there, so the marker cannot fall behind."""
    if os.environ.get("HELPLINE_FAST_TESTS"):
        raise RuntimeError(f"this test starts {what}: mark it @pytest.mark.slow")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask_command(args: list[str], env: dict) -> str:
    """Run `flask <args>` against the configuration in `env`; returns its output."""
    result = subprocess.run(
        [str(BIN / "flask"), *args],
        cwd=ROOT,
        env={**os.environ, "FLASK_APP": "wsgi", "ENCRYPTION_KEY": ENCRYPTION_KEY, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


class Server:
    """One gunicorn process serving the app on its own port; its log is kept for inspection."""

    def __init__(
        self,
        env: dict,
        port: int | None = None,
        log_path: Path | None = None,
        app: str = "wsgi:app",
    ):
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or Path(f"/tmp/helpline-server-{self.port}.log")
        # PUBLIC_URL: where Twilio (or the phone simulator) reaches this server.
        self.env = {
            **os.environ,
            "PUBLIC_URL": self.url,
            "ENCRYPTION_KEY": ENCRYPTION_KEY,
            # No purges in the test database unless a test asks for them.
            "RETENTION_PURGE_SECONDS": "0",
            **env,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
        }
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> "Server":
        refuse_in_fast_run("a server process")
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", self.app],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # A process group of its own, which kill() ends in one signal: master and workers.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """End master and workers at once with SIGKILL, as a crash or the OOM killer would:
        nothing is finished, flushed or said goodbye to."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def demo_server(
    directory: Path, kind: str, commands: tuple[list[str], ...] = (), **settings: str
) -> Iterator[Server]:
    """A server on a SQLite database of its own with the demo services and accounts, after the
    `flask` commands given; the database is removed afterwards. Use with `yield from`."""
    name = f"{kind}-{uuid.uuid4().hex[:12]}"
    database = directory / f"{name}.db"
    env = {
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "test",
        "SOCKETIO_CHANNEL": name,
        "REDIS_URL": "",
        **settings,
    }
    # The Dutch pages need the compiled catalogue (the .mo is not in git).
    subprocess.run(
        [str(BIN / "pybabel"), "-q", "compile", "-d", "translations"], cwd=ROOT, check=True
    )
    flask_command(["db", "upgrade"], env)
    flask_command(["seed", "--demo"], env)
    for args in commands:
        flask_command(args, env)
    with Server(env) as running:
        yield running
    database.unlink(missing_ok=True)


# The first request of a new Socket.IO connection (Engine.IO's handshake): polling, no sid yet.
HANDSHAKE = re.compile(rb"GET /socket\.io/\?EIO=4&transport=polling&t=[^&\s]+ HTTP/1\.1")


class CuttingProxy:
    """A TCP proxy in front of a server that cuts every connection through it on demand, as a
    restarted server or a lost network does. Counts the Socket.IO connections made through it."""

    def __init__(self, port: int):
        self.port = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: set[socket.socket] = set()
        self.handshakes = 0
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                downstream, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.port))
            with self.lock:
                self.open |= {downstream, upstream}
            for source, sink in ((downstream, upstream), (upstream, downstream)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                if handshakes := len(HANDSHAKE.findall(data)):
                    with self.lock:
                        self.handshakes += handshakes
                sink.sendall(data)
        except OSError:
            pass
        self._close(source, sink)

    def _close(self, *sockets: socket.socket) -> None:
        for sock in sockets:
            with self.lock:
                self.open.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def cut(self) -> None:
        """Cut every open connection at once."""
        with self.lock:
            cut = list(self.open)
        self._close(*cut)

    def close(self) -> None:
        self.listener.close()
        self.cut()

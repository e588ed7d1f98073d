"""Chat round-trip benchmark: the helpline server against a bare Socket.IO relay.

N visitor/counsellor pairs chat at once. Every pair's visitor sends a message about once per
`--interval` seconds (default 10: a person typing and reading; with 200 chats that is 20
visitor messages and 20 answers a second); its counsellor answers as soon as the message
arrives; the visitor measures the time from sending to receiving the answer. The same load
then runs against bench/relay_server.py, a bare python-socketio relay served the same way,
and the ratio of the two 99th percentiles shows what the helpline's own code adds. During the
app's run a probe commits one row every 100 ms on a connection of its own, and the report shows
how long PostgreSQL took to make those commits durable.

With --floor a third server runs the same load: the relay again, but storing every message in
PostgreSQL (one autocommit INSERT) before it acks and passes it on, through Redis. That is the
least any server does that keeps each message durably and shares it between processes, so its
figures are the floor under the app's on the same machine. This process pauses its own garbage
collector while it measures, so that its pauses are not counted as the servers' round trips.

Both servers run under gunicorn with gunicorn.conf.py and the same async mode (gevent, as
deployed with PostgreSQL; --async-mode threading for comparison). The app uses PostgreSQL
(database `helpline_bench`, whose schema is dropped and recreated on every run) and Redis (its
own channel per run), both on 127.0.0.1, with its production settings (the sweep that keeps
connected visitors' chats alive runs every 5 s). Every client runs in this one asyncio process.

    .venv/bin/python bench/chat_roundtrip.py --pairs 200 --duration 20 [--floor]

Targets: p99 below 25 ms at 200 concurrent chats, and at most twice the relay's p99. The exit
status is 0 either way: this is a report, not a test.
"""

import argparse
import asyncio
import contextlib
import gc
import math
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402
import pyotp  # noqa: E402
import redis  # noqa: E402
import socketio  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from psycopg import sql  # noqa: E402
from yarl import URL  # noqa: E402

from tests.servers import ENCRYPTION_KEY, Server, flask_command  # noqa: E402

CHAT = "/chat"
INBOX = "/inbox"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
PASSWORD = "bench-password-not-secret"
TOTP_SECRET = "BENCHTOTPSECRETBENCHTOTPSECRETBE"
TARGET_P99_MS = 25.0
TARGET_RATIO = 2.0
REPLY_TIMEOUT = 5.0


# --- servers ---------------------------------------------------------------------------------


class BenchServer(Server):
    """tests.servers.Server for any WSGI app of this repository (`module:attribute`)."""

    def __init__(self, env: dict, app: str = "wsgi:app"):
        super().__init__(env, app=app)

    def worker_pids(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        if not self.process:
            return []
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            return []
        return [int(child) for child in children]


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def service_cpu() -> dict[int, float]:
    """CPU seconds so far of every PostgreSQL and Redis server process, by pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "redis-server"):
                found[int(entry.name)] = cpu_seconds([int(entry.name)])
        except OSError:
            continue
    return found


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all cores together."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    total = sum(ticks[:8])  # up to steal; guest time is already counted in user
    hz = os.sysconf("SC_CLK_TCK")
    return (total - idle) / hz, total / hz


# --- database --------------------------------------------------------------------------------


def require_local(url: str, what: str) -> None:
    host = urlsplit(url).hostname
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"{what} must point at 127.0.0.1, not {host!r}")


def reset_database(url: str) -> None:
    """Create the benchmark database if needed and give it an empty schema."""
    name = urlsplit(url).path.lstrip("/")
    if not name or name == "test":
        raise SystemExit("use a database of its own for the benchmark (not `test`)")
    admin = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@dataclass
class Account:
    id: int
    email: str
    session_token: str


def create_counsellors(url: str, count: int, max_chats: int) -> list[Account]:
    """`count` counsellor accounts sharing one precomputed password hash."""
    from helpline.auth.models import hasher

    password_hash = hasher.hash(PASSWORD)
    # Sealed as helpline.encryption does, with the key the server is given (ENCRYPTION_KEY).
    totp_secret = Fernet(ENCRYPTION_KEY).encrypt(TOTP_SECRET.encode()).decode()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            f"bench{i:05d}@example.org",
            f"Counsellor {i}",
            password_hash,
            "counsellor",
            max_chats,
            True,
            secrets.token_hex(16),
            now,
            totp_secret,
            now,
        )
        for i in range(count)
    ]
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO staff_user (email, display_name, password_hash, role, max_chats,"
                " active, session_token, created_at, totp_secret, two_factor_enrolled_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        accounts = conn.execute(
            "SELECT id, email, session_token FROM staff_user WHERE email LIKE 'bench%%' ORDER BY id"
        ).fetchall()
    return [Account(*row) for row in accounts]


# --- clients ---------------------------------------------------------------------------------


def new_client() -> socketio.AsyncClient:
    return socketio.AsyncClient(reconnection=False, handle_sigint=False)


async def connect(client: socketio.AsyncClient, url: str, namespace: str, **kwargs) -> None:
    await client.connect(
        url, transports=["websocket"], namespaces=[namespace], wait_timeout=15, **kwargs
    )


async def bounded(items, function, limit: int) -> list:
    """Run `function` on every item, at most `limit` at a time."""
    semaphore = asyncio.Semaphore(limit)

    async def one(item):
        async with semaphore:
            return await function(item)

    return await asyncio.gather(*(one(item) for item in items))


def ack_error(ack) -> str | None:
    """None for a successful ack, else a short description."""
    if isinstance(ack, dict) and ack.get("ok"):
        return None
    if isinstance(ack, dict) and isinstance(ack.get("error"), dict):
        return ack["error"].get("code", "error")
    return repr(ack)[:60]


class Run:
    """Samples and errors of one measured run."""

    def __init__(self, interval: float, warmup: float, duration: float):
        self.interval = interval
        start = time.perf_counter()
        self.measure_from = start + warmup
        self.stop_at = self.measure_from + duration
        self.duration = duration
        self.round_trips: list[float] = []
        self.acks: list[float] = []
        self.loop_lag: list[float] = []
        self.errors: Counter = Counter()
        self.messages = 0  # sent by visitors and counsellors while measuring

    def measuring(self, moment: float) -> bool:
        return self.measure_from <= moment < self.stop_at

    def failed(self, sent: float) -> None:
        """A message without an answer counts as infinitely slow."""
        if self.measuring(sent):
            self.round_trips.append(math.inf)


@dataclass
class Visitor:
    index: int
    client: socketio.AsyncClient = field(default_factory=new_client)
    token: str | None = None
    waiting: dict = field(default_factory=dict)

    def __post_init__(self):
        self.client.on("message", self.on_message, namespace=CHAT)

    def on_message(self, data) -> None:
        """A counsellor's answer ends the round trip of the message it quotes."""
        if not isinstance(data, dict) or data.get("sender") != "counsellor":
            return
        body = data.get("body") or ""
        if body.startswith("re:"):
            reply = self.waiting.pop(body[3:], None)
            if reply is not None and not reply.done():
                reply.set_result(time.perf_counter())

    async def chat(self, run: Run) -> None:
        """Send, wait for the answer, pause about `interval`; until the run ends."""
        loop = asyncio.get_running_loop()
        await asyncio.sleep(random.uniform(0, run.interval))
        number = 0
        while time.perf_counter() < run.stop_at:
            number += 1
            msg_id = f"v-{self.index}-{number:06d}"
            reply = loop.create_future()
            self.waiting[msg_id] = reply
            sent = time.perf_counter()
            if run.measuring(sent):
                run.messages += 1

            def acked(ack=None, *_, sent=sent, reply=reply):
                error = ack_error(ack)
                if error:
                    run.errors[f"visitor message refused: {error}"] += 1
                    if not reply.done():
                        reply.cancel()
                elif run.measuring(sent):
                    run.acks.append(time.perf_counter() - sent)

            try:
                await self.client.emit(
                    "message",
                    {"token": self.token, "client_msg_id": msg_id, "body": "ping " + msg_id},
                    namespace=CHAT,
                    callback=acked,
                )
                answered = await asyncio.wait_for(reply, REPLY_TIMEOUT)
            except TimeoutError:
                run.errors[f"no answer within {REPLY_TIMEOUT:.0f}s"] += 1
                run.failed(sent)
            except asyncio.CancelledError:
                if not reply.cancelled():
                    raise
                run.failed(sent)
            except socketio.exceptions.SocketIOError as error:
                run.errors[f"visitor socket: {error}"] += 1
                run.failed(sent)
                await asyncio.sleep(run.interval)
            else:
                if run.measuring(sent):
                    run.round_trips.append(answered - sent)
            self.waiting.pop(msg_id, None)
            elapsed = time.perf_counter() - sent
            await asyncio.sleep(max(0.0, run.interval * random.uniform(0.5, 1.5) - elapsed))


@dataclass
class Counsellor:
    index: int
    client: socketio.AsyncClient = field(default_factory=new_client)
    conversation_id: int | None = None
    run: Run | None = None

    def __post_init__(self):
        self.client.on("message", self.on_message, namespace=INBOX)

    async def on_message(self, data) -> None:
        """Answer every visitor message of the own conversation at once."""
        if not isinstance(data, dict) or data.get("sender") != "visitor":
            return
        if data.get("conversation_id") != self.conversation_id:
            return
        msg_id = data.get("client_msg_id") or ""
        if self.run is not None and self.run.measuring(time.perf_counter()):
            self.run.messages += 1
        await self.client.emit(
            "message",
            {
                "conversation_id": self.conversation_id,
                "client_msg_id": "c" + msg_id,
                "body": "re:" + msg_id,
            },
            namespace=INBOX,
            callback=self.acked,
        )

    def acked(self, ack=None, *_):
        error = ack_error(ack)
        if error and self.run is not None:
            self.run.errors[f"counsellor message refused: {error}"] += 1


# --- setting up the chats --------------------------------------------------------------------


async def log_in(url: str, account: Account) -> str:
    """The session cookie of a counsellor, by signing in through the login form."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url + "/login") as response:
            page = await response.text()
        tag = re.search(r"<input[^>]*name=[\"']csrf_token[\"'][^>]*>", page)
        value = re.search(r"value=[\"']([^\"']+)[\"']", tag.group(0)) if tag else None
        if value is None:
            raise RuntimeError("the login page has no csrf_token field")
        csrf = value.group(1)
        steps = [
            ("/login", {"email": account.email, "password": PASSWORD}),
            ("/login/code", {"code": pyotp.TOTP(TOTP_SECRET).now()}),
        ]
        for path, form in steps:
            form = {**form, "csrf_token": csrf}
            async with http.post(url + path, data=form, allow_redirects=False) as response:
                if response.status not in (302, 303):
                    raise RuntimeError(
                        f"login of {account.email} failed at {path}: HTTP {response.status}"
                    )
        cookie = http.cookie_jar.filter_cookies(URL(url)).get("session")
        if cookie is None:
            raise RuntimeError(f"login of {account.email} set no session cookie")
        return f"session={cookie.value}"


async def set_up_app(url: str, pairs: int, accounts: list[Account]):
    """Visitors open chats, counsellors sign in and each claims one of them."""
    visitors = [Visitor(i) for i in range(pairs)]

    async def open_chat(visitor: Visitor) -> None:
        await connect(visitor.client, url, CHAT)
        ack = await visitor.client.call(
            "message",
            {
                "service": "helpwanted",
                "visitor": secrets.token_urlsafe(32),
                "client_msg_id": f"open-{visitor.index:06d}",
                "body": f"bench chat {visitor.index}",
            },
            namespace=CHAT,
            timeout=30,
        )
        if ack_error(ack):
            raise RuntimeError(f"opening a chat failed: {ack_error(ack)}")
        visitor.token = ack["token"]

    started = time.perf_counter()
    await bounded(visitors, open_chat, 16)
    print(f"  {pairs} chats opened in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    cookies = await bounded(accounts, lambda a: log_in(url, a), 4)
    print(f"  {pairs} counsellors signed in in {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    counsellors = [Counsellor(i) for i in range(pairs)]
    remaining = list(counsellors)
    while remaining:
        first = remaining[0]
        if not first.client.connected:
            await connect(first.client, url, INBOX, headers={"Cookie": cookies[first.index]})
        ack = await first.client.call("list", {"states": ["queued"]}, namespace=INBOX, timeout=30)
        if ack_error(ack):
            raise RuntimeError(f"list failed: {ack_error(ack)}")
        ids = sorted(row["id"] for row in ack["conversations"])
        if not ids:
            raise RuntimeError(f"{len(remaining)} counsellors found no waiting chat")
        batch, remaining = remaining[: len(ids)], remaining[len(ids) :]

        async def claim(counsellor: Counsellor, ids=ids, batch=batch) -> None:
            counsellor.conversation_id = ids[batch.index(counsellor)]
            if not counsellor.client.connected:
                headers = {"Cookie": cookies[counsellor.index]}
                await connect(counsellor.client, url, INBOX, headers=headers)
            ack = await counsellor.client.call(
                "claim",
                {"conversation_id": counsellor.conversation_id},
                namespace=INBOX,
                timeout=30,
            )
            if ack_error(ack):
                raise RuntimeError(f"claim failed: {ack_error(ack)}")

        await bounded(batch, claim, 16)
    print(f"  {pairs} chats claimed in {time.perf_counter() - started:.1f}s")
    return visitors, counsellors


async def set_up_relay(url: str, pairs: int):
    """Visitor and counsellor i join the room of conversation i."""
    visitors = [Visitor(i) for i in range(pairs)]
    counsellors = [Counsellor(i, conversation_id=i + 1) for i in range(pairs)]

    async def join(pair: tuple[Visitor, Counsellor]) -> None:
        visitor, counsellor = pair
        await connect(visitor.client, url, CHAT)
        ack = await visitor.client.call(
            "join", {"conversation_id": counsellor.conversation_id}, namespace=CHAT, timeout=30
        )
        visitor.token = ack["token"]
        await connect(counsellor.client, url, INBOX)
        await counsellor.client.call(
            "join", {"conversation_id": counsellor.conversation_id}, namespace=INBOX, timeout=30
        )

    started = time.perf_counter()
    await bounded(list(zip(visitors, counsellors, strict=True)), join, 16)
    print(f"  {pairs} pairs joined in {time.perf_counter() - started:.1f}s")
    return visitors, counsellors


async def disconnect_all(clients: list[socketio.AsyncClient]) -> None:
    async def close(client):
        # Tearing down: the server is stopped next anyway.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), 10)

    await bounded(clients, close, 64)


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    round_trips: list[float]
    acks: list[float]
    loop_lag: list[float]
    errors: Counter
    duration: float
    server_cpu: float
    client_cpu: float
    machine_cpu: float
    services_cpu: float
    server_ms_per_message: float
    # Durations of the commit probe's COMMITs (the app's run only).
    commits: list[float] = field(default_factory=list)

    def p(self, values: list[float], q: float) -> float:
        if not values:
            return math.nan
        ordered = sorted(values)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    @property
    def p99(self) -> float:
        return self.p(self.round_trips, 0.99)


COMMIT_PROBE_EVERY = 0.1
SLOW_COMMIT = 0.025


async def commit_probe(url: str, run: "Run", commits: list[float]) -> None:
    """Time a one-row INSERT's COMMIT every 100 ms on a connection of its own: how long
    PostgreSQL takes to make a commit durable during the run, whatever the app does."""
    async with await psycopg.AsyncConnection.connect(url) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (at timestamptz)")
        await conn.commit()
        while time.perf_counter() < run.stop_at:
            await conn.execute("INSERT INTO bench_commit_probe VALUES (now())")
            before = time.perf_counter()
            await conn.commit()
            if run.measuring(before):
                commits.append(time.perf_counter() - before)
            await asyncio.sleep(COMMIT_PROBE_EVERY)


@contextlib.contextmanager
def collector_paused():
    """No cyclic garbage collection in this process while it measures.

    Every client of the run lives here, and what the set-up left (one run's disconnected
    clients, the app's sign-ins) is tens of thousands of objects: a full collection of it
    stopped this event loop for 120-280 ms in the middle of a measured window, and collections
    of the younger generations for 5-17 ms, so the servers' round trips were charged for the
    measuring process's pauses. What the run itself allocates is freed by reference counting.
    """
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def measure(name, visitors, counsellors, server, args, probe_url=None) -> Result:
    await asyncio.sleep(1)  # let setup's stray events drain
    run = Run(args.interval, args.warmup, args.duration)
    for counsellor in counsellors:
        counsellor.run = run
    workers = server.worker_pids()

    async def lag_monitor():
        tick = 0.01
        while time.perf_counter() < run.stop_at:
            before = time.perf_counter()
            await asyncio.sleep(tick)
            if run.measuring(before):
                run.loop_lag.append(time.perf_counter() - before - tick)

    cpu = {}

    async def cpu_sampler():
        await asyncio.sleep(max(0.0, run.measure_from - time.perf_counter()))
        cpu["start"] = (cpu_seconds(workers), time.process_time(), *machine_cpu())
        services = service_cpu()
        await asyncio.sleep(max(0.0, run.stop_at - time.perf_counter()))
        cpu["end"] = (cpu_seconds(workers), time.process_time(), *machine_cpu())
        cpu["services"] = sum(t - services.get(pid, 0.0) for pid, t in service_cpu().items())

    commits: list[float] = []
    probes = [commit_probe(probe_url, run, commits)] if probe_url else []
    print(f"  measuring: {args.warmup:g}s warm-up, then {args.duration:g}s")
    with collector_paused():
        await asyncio.gather(
            lag_monitor(), cpu_sampler(), *probes, *(v.chat(run) for v in visitors)
        )
    spent = [end - start for start, end in zip(cpu["start"], cpu["end"], strict=True)]
    return Result(
        name=name,
        round_trips=run.round_trips,
        acks=run.acks,
        loop_lag=run.loop_lag,
        errors=run.errors,
        duration=args.duration,
        server_cpu=spent[0] / args.duration,
        client_cpu=spent[1] / args.duration,
        machine_cpu=spent[2] / spent[3] if spent[3] else math.nan,
        services_cpu=cpu["services"] / args.duration,
        server_ms_per_message=spent[0] * 1000 / run.messages if run.messages else math.nan,
        commits=commits,
    )


async def bench_app(args, channel: str) -> Result:
    print(f"helpline app: preparing {args.database_url}")
    secret_key = secrets.token_hex(32)
    env = {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": secret_key,
        "SOCKETIO_CHANNEL": channel,
        "SOCKETIO_ASYNC_MODE": args.async_mode,
        "HELPLINE_ENV": "development",
        "ACCESS_LOG": "/dev/null",
        "DEFAULT_MAX_CHATS": "3",
        # One message a second per visitor is above the anti-abuse limits; lift them.
        "VISITOR_MESSAGES_PER_MINUTE": "100000",
        "LOGIN_RATE_LIMIT": "100000 per minute",
        # Every simulated visitor starts its chat from this one address.
        "CHAT_NEW_PER_ADDRESS": "100000",
    }
    reset_database(args.database_url)
    try:
        flask_command(["db", "upgrade"], env)
        flask_command(["seed"], env)
        flask_command(["service", "hours", "helpwanted", "always"], env)
        flask_command(["service", "queue-limit", "helpwanted", "100000"], env)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"preparing the database failed:\n{error.stderr}") from error
    accounts = create_counsellors(args.database_url, args.pairs, 3)
    server = BenchServer(env, app=args.app)
    server.start()
    print(f"  gunicorn on {server.url} (log: {server.log_path})")
    clients = []
    try:
        visitors, counsellors = await asyncio.wait_for(
            set_up_app(server.url, args.pairs, accounts), args.setup_timeout
        )
        clients = [v.client for v in visitors] + [c.client for c in counsellors]
        return await measure(
            "helpline app", visitors, counsellors, server, args, probe_url=args.database_url
        )
    finally:
        await disconnect_all(clients)
        server.stop()


async def bench_relay(args, channel: str, store: bool = False) -> Result:
    """The bare relay; with `store`, the relay that keeps every message in PostgreSQL before it
    passes it on, through Redis (what any server that stores messages does at least)."""
    name = "storing relay" if store else "bare relay" + (" (redis)" if args.relay_redis else "")
    print(f"{name}: bench/relay_server.py")
    env = {
        "ACCESS_LOG": "/dev/null",
        "SOCKETIO_CHANNEL": channel + ("-store" if store else "-relay"),
        "SOCKETIO_ASYNC_MODE": args.async_mode,
    }
    if args.relay_redis or store:
        env["RELAY_REDIS_URL"] = args.redis_url
    if store:
        reset_database(args.database_url)
        env["RELAY_DATABASE_URL"] = args.database_url
    server = BenchServer(env, app="bench.relay_server:app")
    server.start()
    print(f"  gunicorn on {server.url} (log: {server.log_path})")
    clients = []
    try:
        visitors, counsellors = await asyncio.wait_for(
            set_up_relay(server.url, args.pairs), args.setup_timeout
        )
        clients = [v.client for v in visitors] + [c.client for c in counsellors]
        probe_url = args.database_url if store else None
        return await measure(name, visitors, counsellors, server, args, probe_url=probe_url)
    finally:
        await disconnect_all(clients)
        server.stop()


# --- report ----------------------------------------------------------------------------------


def ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f">{REPLY_TIMEOUT * 1000:.0f}" if math.isinf(value) else f"{value:.1f}"


def report(results: list[Result], args) -> None:
    print()
    print(
        f"{args.pairs} concurrent chats, each visitor sends about every {args.interval:g}s and"
        f" its counsellor answers at once; {args.duration:g}s measured after"
        f" {args.warmup:g}s warm-up."
    )
    print("Round trip (ms) = visitor sends until the counsellor's answer arrives.")
    header = (
        f"{'server':<20}{'answered':>9}{'lost':>6}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}"
        f"{'ack p50':>9}{'ack p99':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        answered = sum(1 for x in r.round_trips if not math.isinf(x))
        row = [r.p(r.round_trips, q) for q in (0.5, 0.9, 0.99, 1.0)]
        print(
            f"{r.name:<20}{answered:>9}{len(r.round_trips) - answered:>6}"
            + "".join(f"{ms(x):>8}" for x in row)
            + f"{ms(r.p(r.acks, 0.5)):>9}{ms(r.p(r.acks, 0.99)):>9}"
        )
    print()
    header = (
        f"{'resources':<20}{'server CPU':>11}{'ms CPU/msg':>11}{'client CPU':>11}"
        f"{'PG+Redis CPU':>13}{'machine busy':>13}{'client lag p99/max':>19}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<20}{r.server_cpu:>10.0%} {r.server_ms_per_message:>10.1f} "
            f"{r.client_cpu:>10.0%} {r.services_cpu:>12.0%} {r.machine_cpu:>12.0%}"
            f" {ms(r.p(r.loop_lag, 0.99)) + '/' + ms(r.p(r.loop_lag, 1.0)):>18}"
        )
    print(
        "CPU columns are shares of one core: the gunicorn worker, this process, and all"
        " postgres/redis-server processes; ms CPU/msg = worker CPU per message handled;"
        " machine busy = all cores, anything running; lost = no answer within"
        f" {REPLY_TIMEOUT:g}s (counted as infinitely slow)."
    )
    for r in results:
        for error, count in r.errors.most_common():
            print(f"  {r.name}: {count} x {error}")
    for r in results:
        if r.commits:
            slow = sum(1 for x in r.commits if x > SLOW_COMMIT)
            print(
                f"PostgreSQL commits during the {r.name} run (a one-row INSERT every"
                f" {COMMIT_PROBE_EVERY * 1000:.0f} ms on a connection of its own):"
                f" p50 {ms(r.p(r.commits, 0.5))}, p99 {ms(r.p(r.commits, 0.99))},"
                f" max {ms(r.p(r.commits, 1.0))} ms; {slow} of {len(r.commits)} over"
                f" {SLOW_COMMIT * 1000:.0f} ms. Every message waits for such a commit."
            )
    app = next((r for r in results if r.name == "helpline app"), None)
    relay = next((r for r in results if r.name.startswith("bare relay")), None)
    print()
    if app:
        verdict = "met" if app.p99 < TARGET_P99_MS else "MISSED"
        print(f"target p99 < {TARGET_P99_MS:g} ms: app p99 {ms(app.p99)} ms -> {verdict}")
    if app and relay:
        ratio = app.p99 / relay.p99 if relay.p99 else math.inf
        verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
        print(f"target p99 app / relay <= {TARGET_RATIO:g}: {ratio:.2f} -> {verdict}")
    floor = next((r for r in results if r.name == "storing relay"), None)
    if floor and relay:
        print(
            f"storing relay / bare relay p99: {floor.p99 / relay.p99:.2f}"
            " (what storing each message costs before any of the app's own work)"
        )
    if app and floor:
        print(f"app / storing relay p99: {app.p99 / floor.p99:.2f}")


def server_options(parser: argparse.ArgumentParser, database: str) -> None:
    """The options of how a benchmark runs its servers (shared by bench/phone_webhooks.py)."""
    parser.add_argument(
        "--async-mode",
        default="gevent",
        choices=["gevent", "threading"],
        help="Socket.IO async mode and gunicorn worker of both servers (gevent, as deployed)",
    )
    parser.add_argument(
        "--database-url", default=f"postgresql://postgres@127.0.0.1:5432/{database}"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--app", default="wsgi:app", help="gunicorn app spec of the helpline server (wsgi:app)"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200, help="concurrent chats (200)")
    parser.add_argument("--duration", type=float, default=20, help="seconds measured (20)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before measuring (3)")
    parser.add_argument(
        "--interval",
        type=float,
        default=10.0,
        help="mean seconds between a visitor's messages (10: a person typing and reading)",
    )
    server_options(parser, "helpline_bench")
    parser.add_argument("--only", choices=["app", "relay"], help="run one of the two servers")
    parser.add_argument(
        "--relay-redis", action="store_true", help="route the relay's emits through Redis too"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run the relay that stores every message in PostgreSQL and passes it on"
        " through Redis",
    )
    parser.add_argument("--setup-timeout", type=float, default=300)
    args = parser.parse_args(argv)
    require_local(args.database_url, "--database-url")
    require_local(args.redis_url, "--redis-url")
    if args.pairs < 1 or args.duration <= 0 or args.interval <= 0:
        parser.error("--pairs, --duration and --interval must be positive")
    return args


async def main(args) -> None:
    # On SIGTERM too, unwind through the `finally` blocks that stop the servers.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    redis.Redis.from_url(args.redis_url, socket_timeout=5).ping()
    channel = f"helpline-bench-{uuid.uuid4().hex[:12]}"
    results = []
    if args.only != "relay":
        results.append(await bench_app(args, channel))
    if args.only != "app":
        results.append(await bench_relay(args, channel))
        if args.floor:
            results.append(await bench_relay(args, channel, store=True))
    report(results, args)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted; servers stopped")

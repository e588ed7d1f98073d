"""Phone webhook benchmark: the helpline's Twilio webhooks against a bare signed-TwiML app.

`--calls` callers (default 50) phone at once, for as long as the run lasts. Each call is what
Twilio sends for a caller who hangs up while waiting: a signed POST /phone/voice with a new
CallSid (answered with <Enqueue>: a counsellor takes calls, the service is always open), then,
after a random wait of `--hold` seconds, a signed POST /phone/status with
CallStatus=completed, which closes the waiting conversation as abandoned and broadcasts the
change (the heaviest webhook). Most callers have a number of their own; `--repeat` of the
calls come from a small pool of numbers, so the repeat-caller lookup finds a client. As soon
as one call ends, its caller phones again. The latency of every request is measured from
sending it until its response is read; any answer other than 2xx is an error.

How long a call lasts sets how many webhooks 50 concurrent calls send. By default a caller
hangs up 5 to 15 seconds after the call is answered: no sooner than the greeting they hear
first takes to say (about 5 s), and well before a real conversation would end. Fifty such
calls at once are some 3.3 new calls and 6.7 webhooks a second, a whole year of the line's
calls (376 contact moments in 2014) in under two minutes. A shorter hold is a capacity test:
`--hold-min 0.5 --hold-max 1.5` offers some 100 webhooks a second, more than one server
process handles, and the table then shows how many it served.

The same requests, signed the same way, then go to bench/phone_baseline_server.py, a bare Flask
app that checks the signature and answers with fixed TwiML; the ratio of the two 99th
percentiles shows what the helpline's own work adds.

Both servers run under gunicorn with gunicorn.conf.py and the same async mode (gevent, as
deployed with PostgreSQL). The app uses PostgreSQL (database `helpline_bench_phone`, whose
schema is dropped and recreated on every run) and Redis (its own channel per run), both on
127.0.0.1. Every caller runs in this one asyncio process. Before each measurement the
benchmark waits until bench/chat_roundtrip.py is not running, as both would share the CPUs.

    .venv/bin/python bench/phone_webhooks.py --calls 50 --duration 60

Target: p99 below 50 ms over both webhooks at 50 concurrent calls. The exit status is 0
either way: this is a report, not a test.
"""

import argparse
import asyncio
import math
import random
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import psycopg  # noqa: E402
import redis  # noqa: E402
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator  # noqa: E402

from bench.chat_roundtrip import (  # noqa: E402
    BenchServer,
    cpu_seconds,
    create_counsellors,
    machine_cpu,
    require_local,
    reset_database,
    server_options,
    service_cpu,
)
from tests.servers import flask_command  # noqa: E402

SERVICE = "stopitnow"
SERVICE_NUMBER = "+31800000001"
COUNSELLOR_PHONE = "+31612300000"
ENDPOINTS = ("voice", "status")
TARGET_P99_MS = 50.0
REQUEST_TIMEOUT = 10.0
RIVAL = "chat_roundtrip"  # another benchmark that would share the CPUs


# --- callers ---------------------------------------------------------------------------------


class Numbers:
    """Caller IDs: mostly new numbers, a share from a pool of people who call again."""

    def __init__(self, repeat_share: float, pool: int, seed: int):
        self.random = random.Random(seed)
        self.repeat_share = repeat_share
        self.pool = [f"+3161{i:07d}" for i in range(pool)]
        self.next_new = 0

    def pick(self) -> str:
        if self.pool and self.random.random() < self.repeat_share:
            return self.random.choice(self.pool)
        self.next_new += 1
        return f"+3162{self.next_new:07d}"


class Run:
    """Latencies and errors of one measured run."""

    def __init__(self, warmup: float, duration: float):
        start = time.perf_counter()
        self.measure_from = start + warmup
        self.stop_at = self.measure_from + duration
        self.latencies: dict[str, list[float]] = {endpoint: [] for endpoint in ENDPOINTS}
        self.errors: Counter = Counter()
        self.calls = 0  # started, warm-up included

    def measuring(self, moment: float) -> bool:
        return self.measure_from <= moment < self.stop_at


@dataclass
class Twilio:
    """Signs and sends webhooks the way Twilio does for one account."""

    base_url: str
    account_sid: str
    auth_token: str
    http: aiohttp.ClientSession
    validator: RequestValidator = field(init=False)

    def __post_init__(self):
        self.validator = RequestValidator(self.auth_token)

    async def post(self, run: Run, endpoint: str, params: dict, expect: bytes | None) -> None:
        """Send one webhook and record its latency; a failure counts as infinitely slow."""
        url = f"{self.base_url}/phone/{endpoint}"
        params = {"AccountSid": self.account_sid, "ApiVersion": "2010-04-01", **params}
        headers = {SIGNATURE_HEADER: self.validator.compute_signature(url, params)}
        sent = time.perf_counter()
        try:
            async with self.http.post(url, data=params, headers=headers) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            run.errors[f"{endpoint}: {type(error).__name__}"] += 1
            if run.measuring(sent):
                run.latencies[endpoint].append(math.inf)
            return
        if run.measuring(sent):
            run.latencies[endpoint].append(time.perf_counter() - sent)
        if not 200 <= response.status < 300:
            run.errors[f"{endpoint}: HTTP {response.status}"] += 1
        elif expect is not None and expect not in body:
            run.errors[f"{endpoint}: answer without {expect.decode()}"] += 1


async def caller(twilio: Twilio, run: Run, numbers: Numbers, hold: tuple[float, float]) -> None:
    """Phone, wait in the queue, hang up; again until the run ends."""
    await asyncio.sleep(random.uniform(0, hold[1]))  # callers do not all ring at once
    while time.perf_counter() < run.stop_at:
        run.calls += 1
        sid = "CA" + secrets.token_hex(16)
        number = numbers.pick()
        call = {
            "CallSid": sid,
            "From": number,
            "Caller": number,
            "To": SERVICE_NUMBER,
            "Called": SERVICE_NUMBER,
            "FromCountry": "NL",
            "ToCountry": "NL",
            "Direction": "inbound",
        }
        await twilio.post(run, "voice", {**call, "CallStatus": "ringing"}, b"<Enqueue")
        waited = random.uniform(*hold)
        await asyncio.sleep(waited)
        await twilio.post(
            run,
            "status",
            {
                **call,
                "CallStatus": "completed",
                "CallDuration": str(max(1, round(waited))),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": "0",
            },
            None,
        )


# --- servers ---------------------------------------------------------------------------------


def prepare_app_database(args, env: dict) -> None:
    """Empty schema, the service with a number and always open, one counsellor taking calls."""
    reset_database(args.database_url)
    try:
        flask_command(["db", "upgrade"], env)
        flask_command(["seed"], env)
        flask_command(["service", "hours", SERVICE, "always"], env)
        flask_command(["service", "phone", SERVICE, SERVICE_NUMBER], env)
    except subprocess.CalledProcessError as error:
        raise SystemExit(f"preparing the database failed:\n{error.stderr}") from error
    counsellor = create_counsellors(args.database_url, 1, 3)[0]
    with psycopg.connect(args.database_url) as conn:
        conn.execute(
            "UPDATE staff_user SET phone_endpoint = %s, takes_calls = true WHERE id = %s",
            (COUNSELLOR_PHONE, counsellor.id),
        )


def phone_conversations(url: str) -> Counter:
    """How the app's phone conversations ended up: (state, abandoned) -> count."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT state, abandoned, count(*) FROM conversation WHERE channel = 'phone'"
            " GROUP BY state, abandoned"
        ).fetchall()
    return Counter({(state, abandoned): count for state, abandoned, count in rows})


def rival_pids() -> list[int]:
    found = subprocess.run(["pgrep", "-f", RIVAL], capture_output=True, text=True).stdout
    return [int(pid) for pid in found.split()]


async def wait_for_quiet(max_wait: float) -> float:
    """Wait until bench/chat_roundtrip.py is not running; returns the seconds waited."""
    started = time.perf_counter()
    pids = rival_pids()
    if pids:
        print(f"  waiting: {RIVAL} is running (pid {', '.join(map(str, pids))})", flush=True)
    while pids and time.perf_counter() - started < max_wait:
        await asyncio.sleep(2)
        pids = rival_pids()
    waited = time.perf_counter() - started
    if pids:
        print(f"  gave up waiting after {waited:.0f}s: measuring alongside {RIVAL}")
    elif waited > 1:
        print(f"  {RIVAL} finished; waited {waited:.0f}s")
    return waited


# --- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies: dict[str, list[float]]
    errors: Counter
    calls: int
    duration: float
    server_cpu: float
    client_cpu: float
    machine_cpu: float
    services_cpu: float
    other_cpu: float
    waited: float
    rival_during: bool
    notes: list[str] = field(default_factory=list)

    @property
    def everything(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]

    @staticmethod
    def p(values: list[float], q: float) -> float:
        if not values:
            return math.nan
        ordered = sorted(values)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

    @property
    def p99(self) -> float:
        return self.p(self.everything, 0.99)

    @property
    def requests(self) -> int:
        return len(self.everything)


async def measure(name: str, server: BenchServer, twilio_keys: tuple[str, str], args) -> Result:
    waited = await wait_for_quiet(args.max_wait)
    run = Run(args.warmup, args.duration)
    numbers = Numbers(args.repeat, args.repeat_pool, seed=args.seed)
    workers = server.worker_pids()
    cpu = {}

    async def cpu_sampler():
        await asyncio.sleep(max(0.0, run.measure_from - time.perf_counter()))
        cpu["start"] = (cpu_seconds(workers), time.process_time(), *machine_cpu())
        services = service_cpu()
        await asyncio.sleep(max(0.0, run.stop_at - time.perf_counter()))
        cpu["end"] = (cpu_seconds(workers), time.process_time(), *machine_cpu())
        cpu["services"] = sum(t - services.get(pid, 0.0) for pid, t in service_cpu().items())
        cpu["rival"] = bool(rival_pids())

    print(
        f"  measuring: {args.warmup:g}s warm-up, then {args.duration:g}s"
        f" (worker pid {', '.join(map(str, workers))})",
        flush=True,
    )
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:
        twilio = Twilio(server.url, *twilio_keys, http)
        hold = (args.hold_min, args.hold_max)
        await asyncio.gather(
            cpu_sampler(), *(caller(twilio, run, numbers, hold) for _ in range(args.calls))
        )
    spent = [end - start for start, end in zip(cpu["start"], cpu["end"], strict=True)]
    return Result(
        name=name,
        latencies=run.latencies,
        errors=run.errors,
        calls=run.calls,
        duration=args.duration,
        server_cpu=spent[0] / args.duration,
        client_cpu=spent[1] / args.duration,
        machine_cpu=spent[2] / spent[3] if spent[3] else math.nan,
        services_cpu=cpu["services"] / args.duration,
        other_cpu=(spent[2] - spent[0] - spent[1] - cpu["services"]) / args.duration,
        waited=waited,
        rival_during=cpu["rival"],
    )


def twilio_keys() -> tuple[str, str]:
    """An account SID and auth token of this run only."""
    return "AC" + secrets.token_hex(16), secrets.token_hex(16)


async def bench_app(args, channel: str) -> Result:
    print(f"helpline app: preparing {args.database_url}")
    keys = twilio_keys()
    env = {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": secrets.token_hex(32),
        "SOCKETIO_CHANNEL": channel,
        "SOCKETIO_ASYNC_MODE": args.async_mode,
        "HELPLINE_ENV": "development",
        "VISITOR_SWEEP_SECONDS": "0",
        "ACCESS_LOG": "/dev/null",
        "TWILIO_ACCOUNT_SID": keys[0],
        "TWILIO_AUTH_TOKEN": keys[1],
    }
    prepare_app_database(args, env)
    env["GUNICORN_WORKERS"] = str(args.workers)
    server = BenchServer(env, app=args.app)
    server.start()
    print(f"  gunicorn on {server.url} (log: {server.log_path})")
    try:
        result = await measure("helpline app", server, keys, args)
    finally:
        server.stop()
    ended = phone_conversations(args.database_url)
    abandoned = ended.pop(("closed", True), 0)
    result.notes.append(
        f"{result.calls} calls; {abandoned} conversations closed as abandoned"
        + "".join(f", {count} {state}" for (state, _), count in ended.items())
    )
    return result


async def bench_baseline(args) -> Result:
    print("baseline: bench/phone_baseline_server.py")
    keys = twilio_keys()
    env = {
        "ACCESS_LOG": "/dev/null",
        "SOCKETIO_ASYNC_MODE": args.async_mode,
        "TWILIO_AUTH_TOKEN": keys[1],
        "GUNICORN_WORKERS": str(args.workers),
    }
    server = BenchServer(env, app="bench.phone_baseline_server:app")
    server.start()
    print(f"  gunicorn on {server.url} (log: {server.log_path})")
    try:
        return await measure("bare signed TwiML", server, keys, args)
    finally:
        server.stop()


# --- report ----------------------------------------------------------------------------------


def ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f">{REQUEST_TIMEOUT * 1000:.0f}" if math.isinf(value) else f"{value:.1f}"


def report(results: list[Result], args) -> None:
    print()
    print(
        f"{args.calls} concurrent calls, each: signed POST /phone/voice, wait"
        f" {args.hold_min:g}-{args.hold_max:g}s, signed POST /phone/status (completed);"
        f" {args.duration:g}s measured after {args.warmup:g}s warm-up."
    )
    print("Latency (ms) = request sent until its response is read.")
    header = (
        f"{'server':<20}{'webhook':<9}{'requests':>9}{'req/s':>8}"
        f"{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        rows = [(f"/{endpoint}", r.latencies[endpoint]) for endpoint in ENDPOINTS]
        for label, values in [*rows, ("both", r.everything)]:
            figures = [r.p(values, q) for q in (0.5, 0.9, 0.99, 1.0)]
            print(
                f"{r.name:<20}{label:<9}{len(values):>9}{len(values) / r.duration:>8.1f}"
                + "".join(f"{ms(x):>8}" for x in figures)
            )
    print()
    header = (
        f"{'resources':<20}{'server CPU':>11}{'ms CPU/req':>11}{'client CPU':>11}"
        f"{'PG+Redis CPU':>13}{'other CPU':>10}{'machine busy':>13}{'errors':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        per_request = r.server_cpu * r.duration * 1000 / r.requests if r.requests else math.nan
        print(
            f"{r.name:<20}{r.server_cpu:>10.0%} {per_request:>10.2f} {r.client_cpu:>10.0%}"
            f" {r.services_cpu:>12.0%} {r.other_cpu:>9.0%} {r.machine_cpu:>12.0%}"
            f" {sum(r.errors.values()):>7}"
        )
    print(
        "CPU columns are shares of one core: the gunicorn worker, this process, and all"
        " postgres/redis-server processes; ms CPU/req = worker CPU per request; other CPU ="
        " everything else on the machine (other tests, benchmarks: contention);"
        " machine busy = all cores, anything running; errors = any answer but 2xx (or a"
        " /voice answer without <Enqueue>), warm-up included."
    )
    for r in results:
        for note in r.notes:
            print(f"  {r.name}: {note}")
        for error, count in r.errors.most_common():
            print(f"  {r.name}: {count} x {error}")
        if r.waited > 1:
            print(f"  {r.name}: waited {r.waited:.0f}s for {RIVAL} to finish first")
        if r.rival_during:
            print(f"  {r.name}: {RIVAL} was running at the end of the measurement: contended")
    app = next((r for r in results if r.name == "helpline app"), None)
    base = next((r for r in results if r.name != "helpline app"), None)
    print()
    if app:
        verdict = "met" if app.p99 < TARGET_P99_MS else "MISSED"
        print(f"target p99 < {TARGET_P99_MS:g} ms: app p99 {ms(app.p99)} ms -> {verdict}")
    if app and base:
        ratio = app.p99 / base.p99 if base.p99 else math.inf
        print(
            f"app p99 / baseline p99: {ms(app.p99)} / {ms(base.p99)} ms = {ratio:.1f}"
            " (what the helpline's own work adds)"
        )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="concurrent calls (50)")
    parser.add_argument("--duration", type=float, default=60, help="seconds measured (60)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before measuring (3)")
    parser.add_argument(
        "--hold-min", type=float, default=5, help="shortest call before hanging up (5 s)"
    )
    parser.add_argument(
        "--hold-max", type=float, default=15, help="longest call before hanging up (15 s)"
    )
    parser.add_argument(
        "--repeat", type=float, default=0.3, help="share of calls from a known number (0.3)"
    )
    parser.add_argument(
        "--repeat-pool", type=int, default=20, help="how many numbers call again (20)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the caller IDs (1)")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gunicorn workers of both servers (1; more as on a webhook-only server)",
    )
    server_options(parser, "helpline_bench_phone")
    parser.add_argument("--only", choices=["app", "baseline"], help="run one of the two servers")
    parser.add_argument(
        "--max-wait",
        type=float,
        default=1800,
        help=f"seconds to wait for {RIVAL} to finish before measuring anyway (1800)",
    )
    args = parser.parse_args(argv)
    require_local(args.database_url, "--database-url")
    require_local(args.redis_url, "--redis-url")
    if args.calls < 1 or args.duration <= 0 or not 0 <= args.hold_min <= args.hold_max:
        parser.error("--calls and --duration must be positive, 0 <= --hold-min <= --hold-max")
    return args


async def main(args) -> None:
    # On SIGTERM too, unwind through the `finally` blocks that stop the servers.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    redis.Redis.from_url(args.redis_url, socket_timeout=5).ping()
    channel = f"helpline-bench-phone-{uuid.uuid4().hex[:12]}"
    results = []
    if args.only != "baseline":
        results.append(await bench_app(args, channel))
    if args.only != "app":
        results.append(await bench_baseline(args))
    report(results, args)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse_args()))
    except (KeyboardInterrupt, asyncio.CancelledError):
        sys.exit("interrupted; servers stopped")

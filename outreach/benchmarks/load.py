"""Load runs against a real gunicorn on loopback: ``wrk`` when installed, else a bounded Python generator.

Only loopback addresses are ever targeted, every loop is bounded in requests and in time, and the gunicorn
this module starts is stopped by its own process id when the run ends.
"""

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

LOOPBACK = "127.0.0.1"
BASE_DIR = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def server_env(extra: dict | None = None) -> dict:
    """The environment of a production-like server: DEBUG off, no HTTPS redirect, the same database."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE": "0",
            "SECRET_KEY": env.get("SECRET_KEY") or "benchmark-only-" + "x" * 40,
            "ALLOWED_HOSTS": f"{LOOPBACK},localhost",
            # The benchmark does not collectstatic: hashed names would need the manifest.
            "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra or {})
    return env


def _children_cpu_seconds(parent: int) -> float:
    """User + system CPU seconds used so far by the children of ``parent`` (gunicorn's workers), the ones that
    have exited included.

    gunicorn restarts a worker after ``max_requests`` (5,000 ± 10%), several times a run at these rates: a
    worker's CPU must not vanish from the count when it exits. The kernel adds the CPU of each child the parent
    has reaped to the parent's ``cutime``/``cstime``, so the count is the live children's plus those; a new
    worker's start-up (loading Django and the app) is counted as the CPU it is."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        own = (Path("/proc") / str(parent) / "stat").read_text().rsplit(")", 1)[1].split()
        total += int(own[13]) + int(own[14])  # cutime, cstime: the reaped children's
    except OSError:
        pass
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state, ppid, … utime is field 14 and stime 15 of the whole line.
        if int(fields[1]) == parent:
            total += int(fields[11]) + int(fields[12])
    return total / tick


@dataclass
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        return _children_cpu_seconds(self.pid)

    def settle(self, quiet_ms: float = 10.0, interval: float = 0.25, timeout: float = 30.0) -> None:
        """Wait until the workers use less than ``quiet_ms`` of CPU in ``interval`` seconds (at most ``timeout``):
        requests a load tool left behind (in flight at its deadline, or queued after it gave up on them) are
        answered before the next run, so their CPU is not counted against that run's requests."""
        deadline = time.monotonic() + timeout
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(interval)
            now = self.cpu_seconds()
            if (now - last) * 1000 < quiet_ms:
                return
            last = now


@contextmanager
def gunicorn(workers: int = 3, timeout: float = 60.0):
    """A gunicorn serving this checkout on a free loopback port; yields a ``Server`` (base URL, pid).

    Started as ``make serve`` starts it (``outreach/gunicorn_conf.py``: sync workers, the access log line of
    every request, worker recycling), on its own port and with ``workers`` workers; the log goes to a
    temporary file, read back only when gunicorn fails to start.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "outreach.wsgi",
        "-c",
        "python:outreach.gunicorn_conf",
        "--bind",
        f"{LOOPBACK}:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(command, cwd=BASE_DIR, env=server_env(), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError("gunicorn 启动失败：" + log.read().decode(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn 在 {timeout:.0f} 秒内没有就绪")
            time.sleep(0.2)
        yield Server(base, process.pid)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


@dataclass
class LoadSpec:
    """POST (or GET) ``path`` with ``connections`` clients for ``seconds`` (and at most ``max_requests``)."""

    url: str
    method: str = "GET"
    headers: dict | None = None
    # For POSTs: the body template, where {uuid} and {household} are filled per request.
    body: str = ""
    households: tuple[int, ...] = ()
    connections: int = 32
    threads: int = 2
    seconds: int = 10
    max_requests: int = 20_000
    # The drill's accounting (Python generator only): keep every request's outcome, send exactly these
    # bodies once each (a phone outbox resending), and pause after a failed request as a phone would.
    record: bool = False
    bodies: tuple[str, ...] = ()
    error_pause: float = 0.0
    stop: threading.Event | None = None  # ends the run early when set


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def _lua_long_string(text: str) -> str:
    """``text`` as a Lua long-bracket literal: raw bytes, no escapes (LuaJIT reads no \\u escapes)."""
    level = 0
    # The text's own last "]" would close a level-0 bracket early ("[]" in "[[[]]]"): test it with one more.
    while f"]{'=' * level}]" in text + "]":
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def _lua(spec: LoadSpec) -> str:
    """A wrk script: a fresh uuid v4 and a household from the list in every request; JSON summary at the end."""
    headers = "\n".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in (spec.headers or {}).items())
    households = ", ".join(str(h) for h in spec.households) or "0"
    return f"""
wrk.method = {json.dumps(spec.method)}
{headers}
local households = {{ {households} }}
local template = {_lua_long_string(spec.body)}
local counter = 0
local limit = {spec.max_requests}
local nonce = "{secrets.token_hex(4)}"
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
end

function init(args)
  -- thread_no is a global wrk sets in each thread's own Lua state (see setup).
  math.randomseed(thread_no * 7919 + os.time())
end

-- Unique without relying on the random generator: this run's nonce, the thread and its counter.
local function uuid4()
  return string.format("%s-%04x-4%03x-%x%03x-%012x", nonce, thread_no, math.random(0, 4095),
    math.random(8, 11), math.random(0, 4095), counter)
end

function request()
  counter = counter + 1
  if counter > limit then
    wrk.thread:stop()
  end
  if template == "" then
    return wrk.format()
  end
  local body = string.gsub(template, "{{uuid}}", uuid4())
  body = string.gsub(body, "{{household}}", tostring(households[math.random(1, #households)]))
  return wrk.format(nil, nil, nil, body)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_JSON {{\\"requests\\": %d, \\"duration_us\\": %d, \\"connect\\": %d, \\"read\\": %d, " ..
    "\\"write\\": %d, \\"status\\": %d, \\"timeout\\": %d, \\"p50_us\\": %d, \\"p99_us\\": %d, " ..
    "\\"max_us\\": %d}}\\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def parse_wrk(output: str) -> dict:
    """Figures from the WRK_JSON line our script prints (requests/s, p50/p99 ms, errors)."""
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line[len("WRK_JSON ") :])
            seconds = data["duration_us"] / 1e6
            errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
            return {
                "requests": data["requests"],
                "requests_per_s": round(data["requests"] / seconds, 1) if seconds else 0.0,
                "p50_ms": round(data["p50_us"] / 1000, 1),
                "p99_ms": round(data["p99_us"] / 1000, 1),
                "errors": errors,
                "tool": "wrk",
            }
    raise RuntimeError("wrk 没有输出结果：" + output[-500:])


def _check_loopback(url: str):
    host = url.split("//", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    if host not in (LOOPBACK, "localhost", "::1"):
        raise ValueError(f"负载测试只打本机回环地址，不打 {host}")


def run_wrk(spec: LoadSpec) -> dict:
    _check_loopback(spec.url)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(spec))
    try:
        completed = subprocess.run(
            [
                "wrk",
                f"-t{spec.threads}",
                f"-c{spec.connections}",
                f"-d{spec.seconds}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                spec.url,
            ],
            capture_output=True,
            text=True,
            timeout=spec.seconds + 60,
            check=False,
        )
    finally:
        os.unlink(script.name)
    return parse_wrk(completed.stdout + completed.stderr)


@dataclass(frozen=True)
class Outcome:
    """One request of a recorded run: its client id and body, the HTTP status (0: no answer) and when."""

    client_id: str
    body: str
    status: int
    started: float  # time.monotonic()
    ended: float


def run_python(spec: LoadSpec) -> dict:
    """The same run without wrk: one thread per connection, keep-alive, bounded in requests and time.

    With ``spec.record`` the figures carry ``outcomes`` (one ``Outcome`` per request); with ``spec.bodies``
    each of those bodies is sent once instead of made from the template."""
    _check_loopback(spec.url)
    import random
    import uuid

    rest = spec.url.split("//", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    path = "/" + path
    deadline = time.monotonic() + spec.seconds
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    budget = [min(spec.max_requests, len(spec.bodies)) if spec.bodies else spec.max_requests]
    queue = list(reversed(spec.bodies))
    outcomes: list[Outcome] = []

    def worker(seed):
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(host, int(port or 80), timeout=10)
        while time.monotonic() < deadline and not (spec.stop and spec.stop.is_set()):
            with lock:
                if budget[0] <= 0:
                    break
                budget[0] -= 1
                text = queue.pop() if spec.bodies else None
            client_id = ""
            if text is None and spec.body:
                client_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                text = spec.body.replace("{uuid}", client_id).replace("{household}", str(rng.choice(spec.households)))
            elif text is not None:
                client_id = json.loads(text).get("client_id", "")
            body = text.encode() if text else None
            started = time.perf_counter()
            began = time.monotonic()
            status = 0
            try:
                conn.request(spec.method, path, body=body, headers=spec.headers or {})
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(host, int(port or 80), timeout=10)
            ok = 0 < status < 400
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors[0] += 1
                if spec.record:
                    outcomes.append(Outcome(client_id, text or "", status, began, time.monotonic()))
            if not ok and spec.error_pause:
                time.sleep(spec.error_pause)
        conn.close()

    started = time.perf_counter()
    nonce = secrets.token_hex(8)  # client ids differ from one run to the next, not only between threads
    threads = [threading.Thread(target=worker, args=(f"{nonce}-{n}",)) for n in range(spec.connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=spec.seconds + 30)
    seconds = time.perf_counter() - started
    ordered = sorted(latencies) or [0.0]
    figures = {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
        "errors": errors[0],
        "tool": "python",
    }
    if spec.record:
        figures["outcomes"] = outcomes
    return figures


def _cpu_per_request(server: Server, run, figures_handled) -> dict:
    """``run()``'s figures with ``app_cpu_ms``: the workers' CPU from an idle server until it is idle again,
    divided by the requests it handled (``figures_handled(figures)``: those it answered, and those a tool
    gave up on that it still handled)."""
    server.settle()
    before = server.cpu_seconds()
    figures = run()
    server.settle()
    handled = figures_handled(figures)
    if handled:
        figures["app_cpu_ms"] = round((server.cpu_seconds() - before) * 1000 / handled, 2)
    return figures


def run_load(spec: LoadSpec, server: Server | None = None, handled=None) -> dict:
    """One load run; with ``server``, also the app's CPU milliseconds per request (steadier than the rate
    on a shared machine: other jobs slow the clock, not the work a request costs). ``handled`` (a function of
    no arguments) counts the requests the server handled when that differs from the answers the tool read
    (the visit POST counts the visits stored: wrk leaves up to one request per connection in flight)."""

    def run():
        return run_wrk(spec) if wrk_available() else run_python(spec)

    if server is None:
        return run()
    return _cpu_per_request(server, run, lambda figures: handled() if handled else figures["requests"])


@dataclass
class OpenLoopSpec:
    """Requests at a constant arrival rate (open loop): ``rate`` a second for ``seconds``, whatever the answers.

    Each request leaves at its scheduled time on a connection of its own (gunicorn's sync workers close every
    connection after one answer) and its latency counts from that time, so a server that falls behind shows
    its queue in the latency rather than slowing the sender down (wrk's closed loop hides that). Bounded: at
    most ``max_requests`` in all and ``max_outstanding`` waiting at once (a request that would pass that bound
    is not sent and counts as an error), each answer within ``timeout`` seconds.
    """

    url: str
    rate: float = 300.0
    seconds: int = 10
    method: str = "GET"
    headers: dict | None = None
    body: str = ""  # {uuid} and {household} filled per request, as in LoadSpec
    households: tuple[int, ...] = ()
    max_requests: int = 20_000
    max_outstanding: int = 512
    timeout: float = 10.0


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    return ordered[max(0, min(len(ordered) - 1, -(-int(share * 1000) * len(ordered) // 1000) - 1))]


def run_open_loop(spec: OpenLoopSpec) -> dict:
    """One open-loop run (asyncio, one process); figures as ``run_python``'s plus the offered rate.

    ``requests`` counts the requests answered (every one sent is waited for, so none is still in flight
    when the figures are taken); ``errors`` counts answers of 400 and above, connection failures, timeouts
    and requests not sent because ``max_outstanding`` were waiting.
    """
    import asyncio
    import random
    import uuid

    _check_loopback(spec.url)
    rest = spec.url.split("//", 1)[1]
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.partition(":")
    port = int(port or 80)
    path = "/" + path
    total = max(1, min(spec.max_requests, int(spec.rate * spec.seconds)))
    rng = random.Random(secrets.token_hex(8))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counts = {"errors": 0, "dropped": 0, "outstanding": 0, "most_outstanding": 0}

    def request_bytes() -> bytes:
        body = b""
        if spec.body:
            text = spec.body.replace("{uuid}", str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            if spec.households:
                text = text.replace("{household}", str(rng.choice(spec.households)))
            body = text.encode()
        lines = [f"{spec.method} {path} HTTP/1.1", f"Host: {hostport}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (spec.headers or {}).items()]
        if body or spec.method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def one(scheduled: float, payload: bytes):
        status = 0
        writer = None
        try:
            async with asyncio.timeout(spec.timeout):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(payload)
                await writer.drain()
                head = await reader.readline()
                parts = head.split()
                status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                await reader.read()  # the server closes the connection after its answer
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            status = 0
        finally:
            if writer is not None:
                writer.close()
        latencies.append((time.perf_counter() - scheduled) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if not 0 < status < 400:
            counts["errors"] += 1
        counts["outstanding"] -= 1

    async def main():
        tasks = []
        start = time.perf_counter() + 0.05
        interval = 1.0 / spec.rate
        for n in range(total):
            scheduled = start + n * interval
            payload = request_bytes()
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if counts["outstanding"] >= spec.max_outstanding:
                counts["errors"] += 1
                counts["dropped"] += 1
                continue
            counts["outstanding"] += 1
            counts["most_outstanding"] = max(counts["most_outstanding"], counts["outstanding"])
            tasks.append(asyncio.create_task(one(scheduled, payload)))
        sent_by = time.perf_counter()
        await asyncio.gather(*tasks)
        return start, sent_by

    start, sent_by = asyncio.run(main())
    ordered = sorted(latencies)
    seconds = sent_by - start
    return {
        "offered_per_s": spec.rate,
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / seconds, 1) if seconds > 0 else 0.0,
        "p50_ms": round(_percentile(ordered, 0.50), 1),
        "p99_ms": round(_percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1) if ordered else 0.0,
        "errors": counts["errors"],
        "dropped": counts["dropped"],
        "most_outstanding": counts["most_outstanding"],
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "tool": "python-asyncio",
    }


def run_open(spec: OpenLoopSpec, server: Server | None = None, handled=None) -> dict:
    """``run_open_loop`` with, given ``server``, the app's CPU milliseconds per request handled: every request
    sent (one the generator gave up on is still read and answered by a worker later), or ``handled()``."""
    if server is None:
        return run_open_loop(spec)
    return _cpu_per_request(
        server, lambda: run_open_loop(spec), lambda figures: handled() if handled else figures["requests"]
    )

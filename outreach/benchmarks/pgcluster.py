"""PostgreSQL servers of the drill's own: a primary made with initdb and a streaming replica made from it with
``pg_basebackup -R``, on their own loopback ports and data directories under one temporary folder.

Plain Python, no Django: the drill starts these servers before the app can be configured against them. The
binaries are Debian's (``/usr/lib/postgresql/<version>/bin``, the newest there, or ``PG_BIN``). PostgreSQL will
not run as root, so when the drill runs as root the servers (and the tools that write their directories) run as
the ``postgres`` account the Debian packages create. Every server is started in its own session, so a Ctrl-C
in the terminal reaches the drill (which stops them in order), not the servers themselves.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
LOOPBACK = "127.0.0.1"
SUPERUSER = "postgres"
PRIMARY_SETTINGS = {
    "listen_addresses": f"'{LOOPBACK}'",
    "shared_preload_libraries": "'pg_stat_statements'",
    "pg_stat_statements.track": "top",
    "max_connections": "100",
    "shared_buffers": "'256MB'",
    "max_wal_size": "'2GB'",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "max_replication_slots": "5",
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "log_min_messages": "warning",
    "log_checkpoints": "off",
}


class ClusterError(RuntimeError):
    """A PostgreSQL tool failed; the message carries the end of its output."""


def find_bindir() -> Path:
    """The directory of initdb, pg_ctl and pg_basebackup: ``PG_BIN``, else the newest Debian version."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    versions = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: [int(part) for part in p.parent.name.split(".") if part.isdigit()],
    )
    if versions:
        return versions[-1]
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ClusterError(
        "找不到 PostgreSQL 服务端程序（initdb、pg_ctl、pg_basebackup）：请安装 postgresql（make drill 以 root 运行时会安装）"
    )


def server_account() -> str | None:
    """The account the servers run as: ``postgres`` when we are root (PostgreSQL refuses root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError as exc:
        raise ClusterError(
            "以 root 运行时需要系统账号 postgres 来运行 PostgreSQL（Debian 的 postgresql 包会创建）"
        ) from exc
    return SUPERUSER


def hand_over(path: Path, account: str | None) -> None:
    """Let ``account`` own ``path`` (the drill's temporary folder), so the servers may write there."""
    if account:
        entry = pwd.getpwnam(account)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex((LOOPBACK, port)) != 0


@dataclass
class Server:
    """One PostgreSQL server of the drill: where it lives, its port, and the account it runs as."""

    name: str
    bindir: str
    datadir: str
    port: int
    account: str | None
    sockets: str

    # -- what the drill hands on to the app ------------------------------------------------------------------

    def url(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@{LOOPBACK}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={LOOPBACK} port={self.port} user={SUPERUSER} dbname={database} connect_timeout=5"

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Server":
        return cls(**json.loads(text))

    # -- running the tools -----------------------------------------------------------------------------------

    @property
    def log(self) -> str:
        return str(Path(self.sockets) / f"{self.name}.log")

    def tool(self, name: str, *args: str, timeout: float = 600, as_server: bool = True) -> str:
        """Run ``bindir/name args`` (as the server's account when ``as_server``); returns its output."""
        completed = subprocess.run(
            [str(Path(self.bindir) / name), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.account if as_server else None,
            cwd=self.sockets,
            start_new_session=True,
            check=False,
        )
        if completed.returncode != 0:
            raise ClusterError(f"{name} 失败（{self.name}）：{(completed.stderr or completed.stdout)[-1500:]}")
        return completed.stdout

    def _options(self) -> str:
        return f"-p {self.port} -k {self.sockets}"

    def initdb(self, settings: dict[str, str]) -> None:
        self.tool("initdb", "-D", self.datadir, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self.configure(settings)

    def configure(self, settings: dict[str, str]) -> None:
        """Append ``settings`` to postgresql.conf (later lines win), written as the server's account."""
        lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
        subprocess.run(
            ["sh", "-c", f'cat >> "{self.datadir}/postgresql.conf"'],
            input="\n# make drill\n" + lines,
            text=True,
            user=self.account,
            check=True,
        )

    def start(self) -> float:
        """Start and wait until it accepts connections; returns the seconds it took."""
        started = time.monotonic()
        self.tool("pg_ctl", "-D", self.datadir, "-l", self.log, "-o", self._options(), "-w", "-t", "300", "start")
        return round(time.monotonic() - started, 2)

    def stop(self, mode: str = "fast") -> float:
        started = time.monotonic()
        self.tool("pg_ctl", "-D", self.datadir, "-m", mode, "-w", "-t", "120", "stop")
        return round(time.monotonic() - started, 2)

    def restart(self, mode: str = "fast") -> float:
        started = time.monotonic()
        self.tool(
            "pg_ctl",
            "-D",
            self.datadir,
            "-l",
            self.log,
            "-o",
            self._options(),
            "-m",
            mode,
            "-w",
            "-t",
            "300",
            "restart",
        )
        return round(time.monotonic() - started, 2)

    def pid(self) -> int | None:
        """The postmaster's process id from its pid file, when it is running."""
        try:
            pid = int(Path(self.datadir, "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # it exists, owned by the server's account
        return pid

    def running(self) -> bool:
        return self.pid() is not None

    def shut_down(self) -> bool:
        """Stop the server whatever its state: pg_ctl's fast stop, then its own pid if that did not work.
        Returns whether a server was running."""
        pid = self.pid()
        if pid is None:
            return False
        try:
            self.stop("fast")
        except (ClusterError, subprocess.SubprocessError, OSError):
            pass
        pid = self.pid()
        if pid is not None:
            for sig in (signal.SIGQUIT, signal.SIGKILL):  # immediate shutdown, then the kill itself
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    break
                time.sleep(2)
        return True

    def make_replica(self, name: str, datadir: str, port: int, slot: str) -> tuple["Server", float]:
        """A streaming replica of this server by ``pg_basebackup -R`` (with its own replication slot, so the
        primary keeps the WAL a stopped replica still needs); returns it (not started) and the copy's seconds."""
        started = time.monotonic()
        self.tool(
            "pg_basebackup",
            "-h",
            LOOPBACK,
            "-p",
            str(self.port),
            "-U",
            SUPERUSER,
            "-D",
            datadir,
            "-R",
            "-X",
            "stream",
            "-C",
            "-S",
            slot,
            "-c",
            "fast",
            timeout=3600,
        )
        replica = Server(name, self.bindir, datadir, port, self.account, self.sockets)
        return replica, round(time.monotonic() - started, 2)

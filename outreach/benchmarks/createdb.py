"""Create the benchmark's PostgreSQL database if it is missing: python -m outreach.benchmarks.createdb URL.

Runs before Django is configured (the database must exist first). Refuses the shared "test" database.
"""

import sys
from urllib.parse import urlsplit

PROTECTED = {"test", "postgres", "template0", "template1"}


def main(url: str) -> int:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        return 0  # SQLite: the file is created by migrate
    name = parts.path.lstrip("/")
    if not name or name in PROTECTED:
        print(f"基准数据库不能是 “{name or '（空）'}”：请用单独的库，如 …/bench_city", file=sys.stderr)
        return 2
    import psycopg
    from psycopg import sql

    admin_url = parts._replace(path="/postgres").geturl()
    try:
        conn = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        print(f"连不上 PostgreSQL（{parts.hostname}:{parts.port or 5432}）：{exc}", file=sys.stderr)
        return 1
    with conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            print(f"基准数据库 {name} 已存在")
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"已创建基准数据库 {name}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("用法：python -m outreach.benchmarks.createdb postgres://user@host:5432/bench_city", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))

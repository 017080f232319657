"""SQL episodes on a real PostgreSQL server: a database and a role of their own per session.

SQLite inside the sandbox is the embedded default for ``sql`` tasks; this is
the real-server option, for tasks written for PostgreSQL's dialect (and
InterCode's MySQL-like setting). Each session gets a fresh database, loaded
from the task's schema, owned by a fresh login role that may connect to that
database only (``CONNECT`` is revoked from ``PUBLIC``; the role is no
superuser, cannot create roles or databases, and so cannot reach a file or a
program on the server); the session's SQL runs as that role, each step under
``statement_timeout``. Closing drops both.

:class:`PostgresServer` starts a throwaway server (``initdb`` and ``pg_ctl``
from Debian's ``postgresql`` package, listening on a Unix socket only) for
tests and local runs; :class:`PostgresSessions` takes the DSN of any server
where it may create roles and databases. Needs the ``postgres`` extra
(``psycopg``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from typing import Any

from ..sandbox.sessions import StepResult

MAX_ROWS = 1000


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the server would not start (the message says which)."""


class PostgresServer:
    """A throwaway PostgreSQL server in a temporary folder, on a Unix socket; ``stop()`` removes it all.

    As root, the server runs as the ``postgres`` user (it refuses root). Raises PostgresUnavailable."""

    def __init__(self) -> None:
        bindir = _bindir()
        self.folder = tempfile.mkdtemp(prefix="codeloop-pg-")
        os.chmod(self.folder, 0o755)
        self.data, self.socket = os.path.join(self.folder, "data"), os.path.join(self.folder, "run")
        os.makedirs(self.socket)
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.socket, "postgres")
        self.pg_ctl = os.path.join(bindir, "pg_ctl")
        # passwords even on the socket: a session's role must not log in as another (or as the admin)
        self.password = secrets.token_urlsafe(24)
        secret = os.path.join(self.folder, "pw")
        with open(os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            fh.write(self.password + "\n")
        if self._as:
            shutil.chown(secret, "postgres")
        init = subprocess.run([*self._as, os.path.join(bindir, "initdb"), "-D", self.data, "-U", "codeloop",
                               "--auth=scram-sha-256", f"--pwfile={secret}", "-E", "UTF8", "--no-sync"],
                              capture_output=True, text=True)
        os.unlink(secret)
        if init.returncode != 0:
            self.stop()
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-500:]}")
        start = subprocess.run([*self._as, self.pg_ctl, "-D", self.data, "-w", "-l", os.path.join(self.folder, "log"),
                                "-o", f"-k {self.socket} -c listen_addresses='' -c fsync=off", "start"],
                               capture_output=True, text=True)
        if start.returncode != 0:
            self.stop()
            raise PostgresUnavailable(f"the server did not start: {start.stderr.strip()[-500:]}")
        self.dsn = f"host={self.socket} user=codeloop dbname=postgres password={self.password}"
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as admin:  # a session's role reaches its own database only
            for name in ("postgres", "template1"):
                admin.execute(f"REVOKE CONNECT ON DATABASE {name} FROM PUBLIC")

    def stop(self) -> None:
        if os.path.isdir(os.path.join(self.data, "global")):
            subprocess.run([*self._as, self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"],
                           capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bindir() -> str:
    found = sorted(d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()) if os.path.isdir(
        "/usr/lib/postgresql") else []
    if found:
        return os.path.join("/usr/lib/postgresql", found[-1], "bin")
    initdb = shutil.which("initdb")
    if initdb is None:
        raise PostgresUnavailable("PostgreSQL is not installed (apt-get install postgresql)")
    return os.path.dirname(os.path.realpath(initdb))


class PostgresSessions:
    """Sessions on the server at ``admin_dsn`` (a role that may create roles and databases)."""

    def __init__(self, admin_dsn: str) -> None:
        import psycopg

        self.admin_dsn = admin_dsn
        self._psycopg = psycopg
        with psycopg.connect(admin_dsn, autocommit=True) as db:
            db.execute("SELECT 1")

    def open(self, schema: str = "", statement_seconds: float = 10.0) -> "PostgresSession":
        """A fresh database and role, the database loaded from ``schema`` as that role."""
        psycopg = self._psycopg
        name = "cl_" + secrets.token_hex(6)
        password = secrets.token_urlsafe(18)
        from psycopg import sql

        ident = sql.Identifier(name)
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE "
                                  "CONNECTION LIMIT 4").format(ident, sql.Literal(password)))
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(ident, ident))
            admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(ident))
        dsn = self._dsn_for(name, password)
        session = PostgresSession(self, name, psycopg.connect(dsn, autocommit=True), statement_seconds)
        if schema:
            session.connection.execute(schema)
        return session

    def _dsn_for(self, name: str, password: str) -> str:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        parts = conninfo_to_dict(self.admin_dsn)
        parts.update(user=name, dbname=name, password=password)
        return make_conninfo("", **parts)

    def drop(self, name: str) -> None:
        from psycopg import sql

        with self._psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


class PostgresSession:
    """One episode's database: :meth:`step` runs SQL as the session's role (the rows of its last
    statement); the same interface as a sandboxed ``sql`` session's."""

    kind = "sql"

    def __init__(self, owner: PostgresSessions, name: str, connection: Any, statement_seconds: float) -> None:
        self.owner, self.name, self.connection = owner, name, connection
        self.statement_seconds = statement_seconds
        self.closed = False

    def step(self, code: str, cpu: float = 10.0, wall: float = 30.0) -> StepResult:
        if self.closed:
            raise RuntimeError("the session is closed")
        psycopg = self.owner._psycopg
        started = time.monotonic()
        timeout_ms = int(min(wall, self.statement_seconds) * 1000)
        try:
            self.connection.execute(f"SET statement_timeout = {timeout_ms}")
            cursor = self.connection.execute(code)
            columns = tuple(d.name for d in cursor.description) if cursor.description else ()
            rows = cursor.fetchmany(MAX_ROWS) if columns else []
        except psycopg.errors.QueryCanceled as exc:
            return StepResult(error={"name": "QueryCanceled", "message": str(exc).strip()}, limit="time",
                              seconds=round(time.monotonic() - started, 6))
        except psycopg.Error as exc:
            return StepResult(error={"name": type(exc).__name__, "message": str(exc).strip()[:4000]},
                              seconds=round(time.monotonic() - started, 6))
        return StepResult(columns=columns, rows=tuple(tuple(_plain(v) for v in r) for r in rows),
                          seconds=round(time.monotonic() - started, 6))

    def query(self, sql: str) -> StepResult:
        return self.step(sql)

    def snapshot(self) -> dict[str, str]:
        return {}

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self.connection.close()
            finally:
                self.owner.drop(self.name)

    def __enter__(self) -> "PostgresSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(value: Any) -> Any:
    """A cell as the SQLite kernel gives it: numbers and text as they are, anything else as text."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    return value if isinstance(value, (int, float, str)) or value is None else str(value)

"""SQL episodes on a real PostgreSQL server the tests start and stop themselves (issue 12)."""

from __future__ import annotations

import pytest

psycopg = pytest.importorskip("psycopg")
from codeloop.envs.postgres import PostgresServer, PostgresSessions, PostgresUnavailable  # noqa: E402

SCHEMA = "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, 'y');"


@pytest.fixture(scope="module")
def server():
    try:
        srv = PostgresServer()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def postgres(server):
    return PostgresSessions(server.dsn)


def _connect(server, user: str, db: str, password: str):
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return psycopg.connect(make_conninfo("", **dict(conninfo_to_dict(server.dsn), user=user, dbname=db,
                                                    password=password)))


def test_a_session_answers_rows_errors_and_time_limits(postgres):
    with postgres.open(SCHEMA) as s:
        r = s.step("SELECT b, a FROM t ORDER BY a DESC")
        assert r.columns == ("b", "a") and r.rows == (("y", 2), ("x", 1)) and r.ok
        assert s.step("SELECT AVG(a) FROM t").rows == ((1.5,),)
        bad = s.step("SELECT nope FROM t")
        assert bad.error["name"] == "UndefinedColumn"
        slow = s.step("SELECT pg_sleep(10)", wall=0.3)
        assert slow.limit == "time" and slow.error["name"] == "QueryCanceled"
        assert s.step("SELECT 1").rows == ((1,),)  # the session goes on after a cancelled statement


def test_a_sessions_role_reaches_its_own_database_only(server, postgres):
    a, b = postgres.open(SCHEMA), postgres.open(SCHEMA)
    try:
        password = a.connection.info.password
        for db in (b.name, "postgres", "template1"):
            with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
                _connect(server, a.name, db, password)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            _connect(server, "codeloop", a.name, password)  # nor log in as the admin
        assert a.step("SELECT * FROM pg_authid").error["name"] == "InsufficientPrivilege"
        assert a.step("COPY t TO PROGRAM 'id'").error["name"] == "InsufficientPrivilege"
        assert a.step("CREATE DATABASE other").error["name"] == "InsufficientPrivilege"
        assert a.step("CREATE ROLE other").error["name"] == "InsufficientPrivilege"
        a.step("DROP TABLE t")
        assert b.step("SELECT COUNT(*) FROM t").rows == ((2,),)  # one episode's changes are its own
    finally:
        a.close()
        b.close()
    with psycopg.connect(server.dsn) as admin:
        left = admin.execute("SELECT COUNT(*) FROM pg_database WHERE datname IN (%s, %s)", (a.name, b.name)).fetchone()
        roles = admin.execute("SELECT COUNT(*) FROM pg_roles WHERE rolname IN (%s, %s)", (a.name, b.name)).fetchone()
    assert left == (0,) and roles == (0,)  # closed: both dropped


def test_the_sql_environment_on_postgres(postgres):
    pytest.importorskip("gymnasium")
    from gymnasium.utils.env_checker import check_env

    from codeloop.envs.gym import CodeEnv

    env = CodeEnv("sql", postgres=postgres)
    try:
        check_env(env, skip_close_check=True)
        rewards = []
        for query in ("SELECT name FROM employees WHERE dept = 'eng'", "SELECT name FROM employees"):
            env.reset(options={"task_id": "sql/eng-names"})
            env.step(query)
            rewards.append(env.step("submit")[1])
    finally:
        env.close()
    assert rewards[0] == 1.0 and rewards[1] == 0.5

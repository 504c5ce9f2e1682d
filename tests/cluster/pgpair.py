#!/usr/bin/env python3
"""A throwaway PostgreSQL 15 primary plus a synchronous streaming standby on loopback.

For integration tests and dev scripts that need real failover behaviour:

    p1 = free_port()
    p2 = free_port(exclude={p1})
    with PgPair(tempfile.mkdtemp(), p1, p2) as pair:
        conn_string = pair.dsn()          # libpq multi-host DSN, read-write target
        pair.kill_primary()
        pair.promote_standby()

Uses Debian's binaries in /usr/lib/postgresql/15/bin. PostgreSQL refuses to run as
root, so when we are root every PostgreSQL program runs as the `postgres` system user
and base_dir is handed over to that user. Standard library only.

The caller owns base_dir and removes it afterwards. On a tmpfs (TMPDIR=/dev/shm) a
pair is several times faster to set up and delete than on a disk, where fsync and
unlinking thousands of flushed files dominate.

Self-test (start, sync commit, read on standby, kill, promote, write, stop):

    python3 tests/cluster/pgpair.py
"""

import os
import pwd
import signal
import socket
import subprocess
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
SYNC_NAME = "standby1"  # application_name of the standby = synchronous_standby_names
DBNAME = "cledger"
HOST = "127.0.0.1"
READY_TIMEOUT = 60  # seconds, for every "wait until the server is in state X"
# A Unix socket path must fit in sockaddr_un.sun_path (108 bytes, NUL included).
MAX_SOCKET_PATH = 107


def free_port(exclude=()):
    """A TCP port that was free on 127.0.0.1 a moment ago (the kernel picks it).

    Racy by nature: another process may take it before the server binds it; the
    server then fails to start and the log tail in the error says so. `exclude`
    lets a caller get distinct ports from consecutive calls.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port not in exclude:
            return port


def _tail(path, lines=30):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def _proc_stat(pid):
    """(comm, state, pgrp) of a process from /proc/<pid>/stat, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    # Format: "pid (comm) state ppid pgrp ..."; comm may contain spaces and ')'.
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[2])


def _live_postgres(st):
    # Not signal 0: a killed postmaster is reparented to PID 1, which reaps it
    # late (seconds on this VM) or never in some containers; a zombie is dead to us.
    return st is not None and st[0] == "postgres" and st[1] != "Z"


def _postgres_group_members(pgid):
    """PIDs of running (not zombie) postgres processes in process group pgid."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _proc_stat(entry)
            if _live_postgres(st) and st[2] == pgid:
                members.append(int(entry))
    return members


class PgError(RuntimeError):
    pass


class PgPair:
    """Primary on primary_port, synchronous standby on standby_port, all in base_dir."""

    def __init__(self, base_dir: str, primary_port: int, standby_port: int):
        if primary_port == standby_port:
            raise ValueError("primary_port and standby_port must differ")
        self.base_dir = os.path.abspath(base_dir)
        self.ports = {"primary": primary_port, "standby": standby_port}
        self.primary_port = primary_port
        self.standby_port = standby_port
        self.socket_dir = os.path.join(self.base_dir, "sock")
        # Postmaster PIDs (= process group ids) of servers we started, for stop().
        self._pgids = {}
        self._as_postgres = os.geteuid() == 0
        self._pw = pwd.getpwnam("postgres") if self._as_postgres else None

    # ---- paths -------------------------------------------------------------

    def datadir(self, name):
        return os.path.join(self.base_dir, name)

    def logfile(self, name):
        return os.path.join(self.base_dir, f"{name}.log")

    # ---- running programs ---------------------------------------------------

    def _env(self):
        # Drop PG* variables (PGHOST, PGDATABASE, PGOPTIONS, PGSERVICE, ...) of the
        # caller's shell: every connection parameter here is explicit.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if self._as_postgres:
            env.update(HOME=self._pw.pw_dir, USER="postgres", LOGNAME="postgres")
        return env

    def _run(self, prog, *args, timeout=120, check=True):
        """Run a PostgreSQL program (as `postgres` when we are root); return stdout."""
        argv = [os.path.join(PG_BIN, prog), *args]
        if self._as_postgres:
            # setpriv execs the program in place (runuser would fork and wait), so
            # a timeout kill reaches the program itself instead of orphaning it.
            argv = ["setpriv", "--reuid=postgres", "--regid=postgres",
                    "--init-groups", "--", *argv]
        # cwd=base_dir: the caller's cwd (e.g. /root) may be unreadable for postgres.
        proc = subprocess.run(argv, cwd=self.base_dir, env=self._env(),
                              stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise PgError(f"{prog} {' '.join(args)} failed (exit {proc.returncode}):\n"
                          f"{proc.stdout}{proc.stderr}")
        return proc.stdout

    def sql(self, port: int, query: str, dbname: str = DBNAME, timeout: float = 30) -> str:
        """Run one query with psql -At against 127.0.0.1:port; return stdout stripped."""
        return self._run("psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                         "-h", HOST, "-p", str(port), "-U", "postgres",
                         "-d", dbname, "-c", query, timeout=timeout).strip()

    def dsn(self, which="both") -> str:
        """libpq keyword DSN. "both" lists both nodes and lets libpq find the writer."""
        if which == "both":
            return (f"host={HOST},{HOST} port={self.primary_port},{self.standby_port} "
                    f"dbname={DBNAME} user=postgres target_session_attrs=read-write "
                    "connect_timeout=2")
        if which not in self.ports:
            raise ValueError(f"which must be 'both', 'primary' or 'standby', not {which!r}")
        return (f"host={HOST} port={self.ports[which]} dbname={DBNAME} user=postgres "
                "connect_timeout=2")

    # ---- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        try:
            self._prepare_base_dir()
            self._init_primary()
            self._start_server("primary")
            self._clone_standby()
            self._start_server("standby")
            self._wait_for_sync()
            # Only now: with synchronous_standby_names set, this commit waits for
            # the standby, so it must be streaming already.
            self.sql(self.primary_port, f"CREATE DATABASE {DBNAME} OWNER postgres",
                     dbname="postgres")
            self._wait_for_database_on_standby()
        except BaseException:
            self.stop()  # a half-started pair must not leak servers
            raise

    def _prepare_base_dir(self):
        os.makedirs(self.socket_dir, exist_ok=True)
        sock_path = os.path.join(self.socket_dir, ".s.PGSQL.65535")
        if len(sock_path.encode()) > MAX_SOCKET_PATH:
            raise PgError(f"base_dir too long for a Unix socket path: {sock_path}")
        if not self._as_postgres:
            return
        # initdb, pg_ctl -l and pg_basebackup create files in base_dir as postgres.
        # 0755: root-side test code can still read logs and walk the tree.
        for d in (self.base_dir, self.socket_dir):
            os.chown(d, self._pw.pw_uid, self._pw.pw_gid)
            os.chmod(d, 0o755)
        # A mkdtemp()-style parent (0700 root) would block postgres: fail clearly.
        probe = subprocess.run(["setpriv", "--reuid=postgres", "--regid=postgres",
                                "--init-groups", "--", "test", "-w", self.base_dir],
                               cwd="/")
        if probe.returncode != 0:
            raise PgError(f"user postgres cannot write {self.base_dir}: "
                          "make every parent directory world-traversable (o+x)")

    def _init_primary(self):
        data = self.datadir("primary")
        # --no-sync only skips flushing initdb's own files (a crash of the whole
        # machine is not what we test); the servers run with fsync=on.
        self._run("initdb", "-D", data, "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        with open(os.path.join(data, "postgresql.conf"), "a", encoding="utf-8") as f:
            f.write(f"""
# --- pgpair.py ---
port = {self.primary_port}
listen_addresses = '{HOST}'
unix_socket_directories = '{self.socket_dir}'
wal_level = replica
max_wal_senders = 10
hot_standby = on
synchronous_standby_names = '{SYNC_NAME}'
synchronous_commit = on
fsync = on
# Segments in the data directory, not /dev/shm: a killed server's go with the directory.
dynamic_shared_memory_type = mmap
""")
        # Opened "w" on the existing file, so it keeps owner postgres when we are root.
        with open(os.path.join(data, "pg_hba.conf"), "w", encoding="utf-8") as f:
            f.write("# pgpair.py: throwaway loopback cluster, no passwords\n"
                    "local all         all              trust\n"
                    f"host  all         all {HOST}/32 trust\n"
                    "local replication all              trust\n"
                    f"host  replication all {HOST}/32 trust\n")

    def _clone_standby(self):
        data = self.datadir("standby")
        # -R writes standby.signal and primary_conninfo from these connection
        # parameters, application_name included: that is the name the primary
        # matches against synchronous_standby_names.
        conninfo = (f"host={HOST} port={self.primary_port} user=postgres "
                    f"application_name={SYNC_NAME}")
        self._run("pg_basebackup", "-d", conninfo, "-D", data, "-R",
                  "-X", "stream", "-c", "fast", "--no-sync")
        # The copied postgresql.conf still says the primary's port; the last
        # setting in the file wins. (recovery_init_sync_method stays at fsync:
        # syncfs would start faster but flushes the whole filesystem.)
        with open(os.path.join(data, "postgresql.conf"), "a", encoding="utf-8") as f:
            f.write(f"port = {self.standby_port}\n")

    def _start_server(self, name):
        log = self.logfile(name)
        try:
            self._run("pg_ctl", "start", "-w", "-t", str(READY_TIMEOUT),
                      "-D", self.datadir(name), "-l", log)
        except (PgError, subprocess.TimeoutExpired) as e:
            raise PgError(f"{name} on port {self.ports[name]} did not start: {e}\n"
                          f"--- tail of {log} ---\n{_tail(log)}") from None
        finally:
            # Remembered even on failure: a postmaster that is up but not ready
            # in time must still be killed by stop().
            pid = self._postmaster_pid(name)
            if pid is not None:
                self._pgids[name] = pid

    def _postmaster_pid(self, name):
        try:
            with open(os.path.join(self.datadir(name), "postmaster.pid"),
                      encoding="utf-8") as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def _wait_until(self, what, probe, name):
        """Poll probe() until it returns True (anything else: its reason to wait)
        for READY_TIMEOUT s; then raise with the last reason and name's log tail."""
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            try:
                last = probe()
                if last is True:
                    return
            except (PgError, subprocess.TimeoutExpired) as e:
                last = e
            time.sleep(0.1)
        log = self.logfile(name)
        raise PgError(f"timed out after {READY_TIMEOUT}s waiting for {what}; "
                      f"last probe: {last!r}\n--- tail of {log} ---\n{_tail(log)}")

    def _wait_for_sync(self):
        query = ("SELECT application_name || ':' || sync_state FROM pg_stat_replication")

        def probe():
            rows = self.sql(self.primary_port, query, dbname="postgres", timeout=5)
            return True if f"{SYNC_NAME}:sync" in rows.split("\n") else rows

        self._wait_until(f"{SYNC_NAME} to be a synchronous standby "
                         "(pg_stat_replication on the primary)", probe, "standby")

    def _wait_for_database_on_standby(self):
        # synchronous_commit=on waits for the standby to flush the commit, not to
        # replay it: without this wait dsn("standby") could fail with "database
        # does not exist" for a few milliseconds.
        query = f"SELECT count(*) FROM pg_database WHERE datname = '{DBNAME}'"

        def probe():
            n = self.sql(self.standby_port, query, dbname="postgres", timeout=5)
            return True if n == "1" else "not replayed yet"

        self._wait_until(f"database {DBNAME} to appear on the standby", probe, "standby")

    def kill_primary(self) -> None:
        """Abrupt death of the primary, like a node crash: SIGKILL, no shutdown.

        pg_ctl starts the postmaster in its own session, so its pid is also the
        process group of all its backends. We SIGKILL the whole group: orphaned
        backends would otherwise linger until they notice the dead postmaster,
        and stop() could no longer find them through pg_ctl.
        """
        pid = self._postmaster_pid("primary")
        if pid is None:
            raise PgError("primary is not running (no postmaster.pid)")
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while _postgres_group_members(pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def promote_standby(self) -> None:
        # After the failover the new primary has no standby of its own, so a
        # synchronous_standby_names inherited from the old primary's config would
        # make every commit wait forever. Clear it before promoting (ALTER SYSTEM
        # works on a hot standby), so no commit on the new primary ever waits for
        # a standby that does not exist. In production Patroni manages this.
        port = self.standby_port
        self.sql(port, "ALTER SYSTEM SET synchronous_standby_names = ''", dbname="postgres")
        self.sql(port, "SELECT pg_reload_conf()", dbname="postgres")
        self._run("pg_ctl", "promote", "-w", "-t", str(READY_TIMEOUT),
                  "-D", self.datadir("standby"))

        def probe():
            state = self.sql(port, "SELECT pg_is_in_recovery()", dbname="postgres", timeout=5)
            return True if state == "f" else f"pg_is_in_recovery() = {state}"

        self._wait_until("the promoted standby to leave recovery", probe, "standby")

    def stop(self) -> None:
        """Immediate shutdown of both servers; errors ignored; safe to call twice."""
        for name in ("standby", "primary"):
            # Skip a postmaster that is already dead (kill_primary): pg_ctl would
            # signal its zombie and then wait for PID 1 to reap it.
            pid = self._postmaster_pid(name)
            if pid is not None and _live_postgres(_proc_stat(pid)):
                try:
                    self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-t", "30",
                              "-D", self.datadir(name), check=False, timeout=40)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            # Whatever pg_ctl could not stop (e.g. it timed out) dies here.
            pgid = self._pgids.pop(name, None)
            if pgid and _postgres_group_members(pgid):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def _self_test():
    import shutil
    import tempfile

    t0 = time.monotonic()
    base = tempfile.mkdtemp(prefix="pgpair-")
    p1 = free_port()
    p2 = free_port(exclude={p1})
    def writer_port(pair):
        # What a client given dsn("both") lands on: libpq tries the hosts in
        # order and keeps the first that accepts writes.
        return pair._run("psql", "-X", "-At", "-d", pair.dsn(), "-c",
                         "SELECT inet_server_port()", timeout=10).strip()

    try:
        with PgPair(base, p1, p2) as pair:
            t_up = time.monotonic() - t0
            print(f"pair up in {t_up:.1f}s: {pair.dsn()}")
            pgids = [pair._postmaster_pid("primary"), pair._postmaster_pid("standby")]
            assert writer_port(pair) == str(p1)
            pair.sql(p1, "CREATE TABLE t (id int PRIMARY KEY, note text)")
            # synchronous_commit=on + a sync standby: once this returns, the row's
            # commit record is flushed on the standby too.
            pair.sql(p1, "SET synchronous_commit = on; INSERT INTO t VALUES (1, 'before')")
            # Flushed is not yet replayed: poll the standby briefly for visibility
            # (until CREATE TABLE is replayed, the query fails: table missing).
            deadline = time.monotonic() + 10
            while True:
                try:
                    if pair.sql(p2, "SELECT count(*) FROM t WHERE id = 1") == "1":
                        break
                except PgError:
                    pass
                assert time.monotonic() < deadline, "row 1 never became visible on standby"
                time.sleep(0.02)
            assert pair.sql(p2, "SELECT pg_is_in_recovery()") == "t"

            pair.kill_primary()
            pair.promote_standby()
            pair.sql(p2, "INSERT INTO t VALUES (2, 'after')", timeout=10)
            rows = pair.sql(p2, "SELECT id || '=' || note FROM t ORDER BY id")
            assert rows == "1=before\n2=after", rows
            assert writer_port(pair) == str(p2)
            print("failover ok:", rows.replace("\n", ", "))
        pair.stop()  # idempotence
        stray = [pid for g in pgids for pid in _postgres_group_members(g)]
        assert not stray, f"postgres processes left running: {stray}"
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"self-test passed in {time.monotonic() - t0:.1f}s")


if __name__ == "__main__":
    _self_test()

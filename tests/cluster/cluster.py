#!/usr/bin/env python3
"""A Contact Ledger cluster on loopback: a PostgreSQL primary with a synchronous standby
(pgpair.py) and `cledger serve --cluster` nodes, for the cluster tests and for a person to try
(tools/dev/cluster.sh runs `python3 tests/cluster/cluster.py --serve`).

Standard library only.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgpair import PgPair, free_port  # noqa: E402


def http(method, url, token=None, body=None, headers=None, timeout=30):
    """(status, headers, parsed JSON or text) of one request; never raises on an HTTP status."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, head, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        status, head, raw = e.code, dict(e.headers), e.read()
    try:
        return status, head, json.loads(raw) if raw else None
    except ValueError:
        return status, head, raw.decode(errors="replace")


class SingleNode:
    """A single-node `cledger serve` on a fresh data directory; the tokens its first start
    prints: the demo tenant's owner token and an ops token."""

    def __init__(self, cledger, data):
        self.data = data
        out = data + ".out"
        self.process = subprocess.Popen([cledger, "serve", "--data", data,
                                         "--listen", "127.0.0.1:0"],
                                        stdout=open(out, "w"), stderr=subprocess.STDOUT)
        for _ in range(300):
            text = open(out).read()
            if "Stop with" in text:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("cledger serve did not start: " + text)
        self.url = re.search(r"serving (http://\S+)", text).group(1)
        self.owner = re.search(r"owner token\s+(\S+)", text).group(1)
        self.ops = re.search(r"ops token\s+(\S+)", text).group(1)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait()


class Node:
    """One `cledger serve --cluster` process."""

    def __init__(self, cluster, name):
        self.cluster = cluster
        self.name = name
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.data = os.path.join(cluster.base, name)
        self.log = os.path.join(cluster.base, name + ".log")
        self.process = None

    def start(self, ops_token=False):
        cmd = [self.cluster.cledger, "serve", "--data", self.data, "--cluster", self.cluster.dsn,
               "--node", self.name, "--advertise", self.url,
               "--listen", "127.0.0.1:%d" % self.port,
               "--master-key-file", self.cluster.master_key,
               "--signing-key-file", self.cluster.signing_key]
        if ops_token:
            cmd += ["--ops-token", "12h"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("%s exited: %s" % (self.name, self.tail()))
            try:
                if http("GET", self.url + "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("%s did not start: %s" % (self.name, self.tail()))
        if ops_token:
            while time.time() < deadline:
                found = re.search(r"ops token\s+(\S+)", open(self.log).read())
                if found:
                    return found.group(1)
                if "no ops token" in open(self.log).read():
                    raise RuntimeError("%s does not own partition 0" % self.name)
                time.sleep(0.1)
            raise RuntimeError("%s printed no ops token: %s" % (self.name, self.tail()))
        return None

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def kill(self, sig=signal.SIGKILL):
        self.process.send_signal(sig)
        if sig == signal.SIGKILL:
            self.process.wait()

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def tail(self, lines=30):
        try:
            return "".join(open(self.log).readlines()[-lines:])
        except OSError:
            return ""


class Cluster:
    """PostgreSQL primary + synchronous standby, the schema, and `nodes` cledger nodes."""

    def __init__(self, cledger, nodes=3, partitions=2, base=None):
        self.cledger = os.path.abspath(cledger)
        self.base = base or tempfile.mkdtemp(prefix="cledger-cluster-", dir=_scratch())
        os.makedirs(self.base, exist_ok=True)
        os.chmod(self.base, 0o755)
        p1 = free_port()
        self.pg = PgPair(os.path.join(self.base, "pg"), p1, free_port(exclude={p1}))
        self.partitions = partitions
        self.master_key = os.path.join(self.base, "master.key")
        self.signing_key = os.path.join(self.base, "signing.key")
        self.nodes = [Node(self, "node%d" % (i + 1)) for i in range(nodes)]
        self.ops = None

    def start(self, before_nodes=None):
        """`before_nodes(cluster)` runs once the schema exists, before any node starts."""
        os.makedirs(os.path.join(self.base, "pg"), exist_ok=True)
        self.pg.start()
        self.dsn = self.pg.dsn("both")
        subprocess.run([self.cledger, "cluster", "init", "--pg", self.dsn, "--partitions",
                        str(self.partitions)], check=True, stdout=subprocess.DEVNULL)
        if before_nodes:
            before_nodes(self)
        # The first node owns every partition until the others join: it issues the ops token.
        self.ops = self.nodes[0].start(ops_token=True)
        for node in self.nodes[1:]:
            node.start()
        self.await_owners()
        return self

    def sql(self, query):
        """One query on whichever PostgreSQL server is the primary now."""
        return self.pg.sql(self.pg.primary_port if self._primary_up() else self.pg.standby_port,
                           query)

    def owners(self):
        """{partition: node name} of the live leases, read from PostgreSQL."""
        rows = self.sql("SELECT part, owner FROM cledger_leases "
                        "WHERE expires_at > clock_timestamp() AND owner IS NOT NULL")
        return {int(r.split("|")[0]): r.split("|")[1] for r in rows.splitlines() if r}

    def _primary_up(self):
        try:
            return self.pg.sql(self.pg.primary_port, "SELECT NOT pg_is_in_recovery()",
                               timeout=3) == "t"
        except Exception:
            return False

    def await_owners(self, spread=True, timeout=30):
        """Until every partition has a live owner (spread over the nodes, when asked)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            owners = self.owners()
            live = {n.name for n in self.nodes if n.alive()}
            if len(owners) == self.partitions and set(owners.values()) <= live:
                if not spread or len(set(owners.values())) == min(len(live), self.partitions):
                    return owners
            time.sleep(0.2)
        raise RuntimeError("partitions without an owner: %s" % self.owners())

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def stop(self):
        for node in self.nodes:
            node.stop()
        self.pg.stop()

    def remove(self):
        shutil.rmtree(self.base, ignore_errors=True)


def _scratch():
    """tmpfs when there is one: PostgreSQL's fsyncs and unlinks are slow on this kind of disk."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def serve(cledger):
    # SIGTERM (timeout, a service manager) stops everything as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    cluster = Cluster(cledger)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        cluster.remove()
        raise
    print("PostgreSQL primary and synchronous standby:", cluster.dsn)
    for node in cluster.nodes:
        print("node %s  %s  (log %s)" % (node.name, node.url, node.log))
    print("partition owners:", cluster.owners())
    print("ops token (any node):", cluster.ops)
    print("\nTry:\n  curl -s -X POST %s/v1/admin/tenants -H 'Authorization: Bearer %s' "
          "-H 'Content-Type: application/json' -d '{\"name\": \"acme\"}'" %
          (cluster.nodes[1].url, cluster.ops))
    print("\nCtrl-C stops everything (data in %s is removed)." % cluster.base, flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        cluster.remove()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cledger", default="build/tools/cledger")
    parser.add_argument("--serve", action="store_true", help="start a cluster and wait")
    args = parser.parse_args()
    if args.serve:
        serve(args.cledger)

#!/usr/bin/env python3
"""Cluster benchmark, in one run on one machine (docs/CLUSTER.md):

  1. durable domain commands/s (POST /v1/customers, 4 tenants over 2 partitions) of a 3-node
     cluster with a PostgreSQL primary and synchronous standby, against a single-node
     `cledger serve` under the same wrk load (target: cluster >= 0.5 x single node);
  2. follower lag at a steady paced load: the time from an event's recording on its owner to
     its arrival on an SSE subscriber of another node (target: p99 <= 50 ms at 5,000/s);
  3. takeover: from kill -9 of a partition's owner until a command for that partition is
     acknowledged again through another node (target <= 5 s).

Everything (nodes, PostgreSQL, wrk) shares this machine's cores: the ratio is the figure that
carries over, the absolute numbers are this machine's.

  python3 tools/bench/cluster_bench.py [--seconds 10] [--connections 32] [--rate 5000]

Needs wrk (apt-get install wrk) and a build in ./build.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.client import HTTPConnection

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
from cluster import Cluster, SingleNode, http  # noqa: E402
from cluster_test import partition_of, setup_tenants  # noqa: E402

LUA = r"""
tokens = {}
pause = 0
function init(args)
  pause = tonumber(args[1])
  for i = 2, #args do tokens[#tokens + 1] = args[i] end
end
counter = 0
request = function()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("POST", "/v1/customers",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token},
    '{"name":"Bench Customer","email":"ap@bench.test"}')
end
function delay() return pause end
"""


def wrk(url, tokens, seconds, connections, pause_ms, script):
    """Started wrk process against `url`."""
    return subprocess.Popen(
        ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds, "--latency", "-s", script,
         url, "--", str(pause_ms)] + tokens,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(process):
    """(acknowledged commands/s, p99 latency text) of a finished wrk."""
    out = process.communicate()[0]
    requests = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    duration = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = int(failed.group(1)) if failed else 0
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    return (total - failed) / duration if total else requests, p99.group(1) if p99 else "?"


def single_node(cledger, tokens_wanted, seconds, connections, script, base):
    single = SingleNode(cledger, os.path.join(base, "single"))
    url, ops = single.url, single.ops
    try:
        tokens = []
        for name in tokens_wanted:
            http("POST", url + "/v1/admin/tenants", ops, {"name": name})
            tokens.append(http("POST", url + "/v1/admin/tokens", ops,
                               {"tenant": name, "actor": "bench", "role": "owner"})[2]["token"])
        rate, p99 = wrk_result(wrk(url, tokens, seconds, connections, 0, script))
        return rate, p99
    finally:
        single.stop()


def cluster_rate(cluster, tokens, seconds, connections, script, pause_ms=0):
    per_node = max(1, connections // len(cluster.nodes))
    runs = [wrk(n.url, tokens, seconds, per_node, pause_ms, script) for n in cluster.nodes]
    results = [wrk_result(r) for r in runs]
    return sum(r for r, _ in results), [p for _, p in results]


def follower_lag(cluster, tokens, seconds, rate, script):
    """Lags (ms) seen by an SSE subscriber on a node that does not own the tenant's partition,
    while wrk paces roughly `rate` commands/s over every node; and the rate achieved."""
    owners = cluster.await_owners()
    tenant = next(t for t in sorted(tokens) if partition_of(t) == 1)
    follower = next(n for n in cluster.nodes if n.name != owners[1])
    lags = []
    stop = threading.Event()

    def subscribe():
        host, port = follower.url[len("http://"):].split(":")
        conn = HTTPConnection(host, int(port), timeout=seconds + 30)
        head = http("GET", follower.url + "/v1/ledger/digest?partition=1", cluster.ops)[2]
        conn.request("GET", "/v1/events/stream",
                     headers={"Authorization": "Bearer " + tokens[tenant],
                              "Last-Event-ID": str(head["position"])})
        response = conn.getresponse()
        while not stop.is_set():
            line = response.fp.readline().decode()
            if not line:
                return
            if line.startswith("data: "):
                recorded = json.loads(line[6:])["recorded_at"]
                at = datetime.fromisoformat(recorded.replace("Z", "+00:00")).timestamp()
                lags.append((time.time() - at) * 1000)

    reader = threading.Thread(target=subscribe, daemon=True)
    reader.start()
    time.sleep(0.5)
    connections = 12
    # Each connection waits `pause` between its requests: connections / (pause + latency).
    pause_ms = max(0, int(connections * 1000 / rate) - 2)
    achieved, _ = cluster_rate(cluster, list(tokens.values()), seconds, connections, script,
                               pause_ms)
    time.sleep(1)
    stop.set()
    lags.sort()
    return achieved, lags


def takeover(cluster, tokens):
    owners = cluster.await_owners()
    tenant = next(t for t in sorted(tokens) if partition_of(t) == 1)
    victim = cluster.node(owners[1])
    other = next(n for n in cluster.nodes if n is not victim)
    victim.kill()
    started = time.time()
    attempt = 0
    while True:
        attempt += 1
        status = http("POST", other.url + "/v1/customers", tokens[tenant],
                      {"name": "After", "email": "after@bench.test"},
                      {"Idempotency-Key": "takeover-probe"}, timeout=5)[0]
        if status == 201:
            return time.time() - started, victim
        time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cledger", default=os.path.join(ROOT, "build", "tools", "cledger"))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=5000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    base = tempfile.mkdtemp(prefix="cledger-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                            else None)
    script = os.path.join(base, "post.lua")
    open(script, "w").write(LUA)
    os.chmod(base, 0o755)  # PostgreSQL runs as its own user below it
    cluster = Cluster(args.cledger, nodes=3, partitions=2, base=os.path.join(base, "cluster"))
    try:
        cluster.start()
        tokens = setup_tenants(cluster)
        single, single_p99 = single_node(args.cledger, sorted(tokens), args.seconds,
                                         args.connections, script, base)
        clustered, cluster_p99 = cluster_rate(cluster, list(tokens.values()), args.seconds,
                                              args.connections, script)
        achieved, lags = follower_lag(cluster, tokens, args.seconds, args.rate, script)
        took, victim = takeover(cluster, tokens)
        print("cluster benchmark: 3 nodes, 2 partitions, PostgreSQL 15 primary + synchronous "
              "standby, %d wrk connections, %d s, all on this machine's %d cores" %
              (args.connections, args.seconds, os.cpu_count()))
        print("  single node  %8.0f commands/s  p99 %s" % (single, single_p99))
        print("  cluster      %8.0f commands/s  p99 %s   = %.2f x single node (target >= 0.5)"
              % (clustered, "/".join(cluster_p99), clustered / single))
        if lags:
            pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]  # noqa: E731
            print("  follower lag at %.0f commands/s (asked %d): p50 %.1f ms, p99 %.1f ms, "
                  "max %.1f ms over %d events (target p99 <= 50 ms at 5,000/s)" %
                  (achieved, args.rate, pick(0.5), pick(0.99), lags[-1], len(lags)))
        print("  takeover after kill -9 of %s: %.2f s to the next acknowledged command "
              "(target <= 5 s)" % (victim.name, took))
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

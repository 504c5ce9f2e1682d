#!/usr/bin/env python3
"""The cluster on real processes (docs/CLUSTER.md): a PostgreSQL primary with a synchronous
standby, three `cledger serve --cluster` nodes, two partitions, writers through every node.

  1. kill -9 a partition's owner mid-load: another node takes over; every acknowledged
     command is present exactly once on every node, every chain verifies, the digests agree;
     the killed node, restarted, catches up.
  2. SIGSTOP an owner until another takes over, then SIGCONT: it is fenced, nothing forks.
  3. A follower killed and restarted catches up; an SSE subscriber on one node resumes on
     another with Last-Event-ID, without a gap or a duplicate.
  4. kill -9 the PostgreSQL primary mid-load, promote the standby: nothing acknowledged is
     lost and writes resume.

  python3 tests/cluster/cluster_test.py --cledger build/tools/cledger
"""

import argparse
import hashlib
import json
from http.client import HTTPConnection
import os
import random
import re
import signal
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, http  # noqa: E402

PARTITIONS = 2


def partition_of(tenant):
    """As the nodes place tenants (engine/cluster/schema.cc)."""
    digest = hashlib.sha256(("cledger-partition\n" + tenant).encode()).hexdigest()
    return int(digest[:12], 16) % PARTITIONS


class Load:
    """Writers creating customers through random live nodes; each command is retried with its
    Idempotency-Key until it is acknowledged, so every one ends acknowledged exactly once."""

    # Every command acknowledged by any load so far: idempotency key -> (tenant, customer id).
    acked = {}

    def __init__(self, cluster, tokens, writers=6):
        self.cluster = cluster
        self.tokens = tokens  # tenant -> owner token
        self.acked_before = len(Load.acked)
        self.errors = []
        self.retries = 0
        self.stopping = False
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(writers)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        for t in self.threads:
            t.join(timeout=120)

    def count(self):
        """Commands this load had acknowledged."""
        return len(Load.acked) - self.acked_before

    def run(self):
        while not self.stopping:
            tenant = random.choice(sorted(self.tokens))
            key = str(uuid.uuid4())
            self.create(tenant, key)

    def create(self, tenant, key):
        body = {"name": "Customer " + key[:8], "email": key[:12] + "@" + tenant + ".test"}
        deadline = time.time() + 90
        while time.time() < deadline:
            live = [n for n in self.cluster.nodes if n.alive() and not getattr(n, "paused", False)]
            node = random.choice(live)
            try:
                status, _, answer = http("POST", node.url + "/v1/customers", self.tokens[tenant],
                                         body, {"Idempotency-Key": key}, timeout=5)
            except OSError:
                status, answer = None, None
            if status == 201:
                with self.lock:
                    Load.acked[key] = (tenant, answer["id"])
                return
            if status not in (None, 503):
                with self.lock:
                    self.errors.append((status, answer))
                return
            with self.lock:
                self.retries += 1
            time.sleep(0.05)
        with self.lock:
            self.errors.append(("gave up", key))


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def converge(cluster, timeout=60):
    """Until every live node has the same head in every partition; those heads."""
    deadline = time.time() + timeout
    while True:
        digests = {}
        for p in range(PARTITIONS):
            seen = set()
            for node in cluster.nodes:
                if node.alive():
                    status, _, d = http("GET", "%s/v1/ledger/digest?partition=%d" % (node.url, p),
                                        cluster.ops)
                    seen.add((d["position"], d["hash"]) if status == 200 else None)
            digests[p] = seen
        if all(len(s) == 1 and None not in s for s in digests.values()):
            return {p: next(iter(s)) for p, s in digests.items()}
        if time.time() > deadline:
            raise AssertionError("nodes disagree: %s" % digests)
        time.sleep(0.3)


def events_of(node, ops, p):
    out, start = [], 1
    while True:
        status, _, page = http("GET", "%s/v1/events?partition=%d&from=%d&limit=1000" %
                               (node.url, p, start), ops)
        check(status == 200, "events of partition %d on %s: %s" % (p, node.name, page))
        out += page["events"]
        if not page["events"]:
            return out
        start = page["next"]


def check_exactly_once(cluster, load):
    """Every acknowledged customer exists once on every live node; every chain verifies."""
    heads = converge(cluster)
    check(not load.errors, "commands failed: %s" % load.errors[:5])
    for node in cluster.nodes:
        if not node.alive():
            continue
        created = {}
        for p in range(PARTITIONS):
            for e in events_of(node, cluster.ops, p):
                check(e.get("personal_data") != "unreadable",
                      "%s cannot open the personal data of position %d of partition %d" %
                      (node.name, e["position"], p))
                if e["type"] == "CustomerCreated":
                    created[e["stream"]] = created.get(e["stream"], 0) + 1
            status, _, report = http("GET", "%s/v1/ledger/verify?partition=%d" % (node.url, p),
                                     cluster.ops, timeout=120)
            check(status == 200 and report["ok"], "verify on %s: %s" % (node.name, report))
        for key, (tenant, cid) in Load.acked.items():
            check(created.get("customer-" + cid) == 1,
                  "%s: customer %s (key %s) created %s times" %
                  (node.name, cid, key, created.get("customer-" + cid)))
        check(sum(created.values()) == len(Load.acked),
              "%s holds %d customers, %d were acknowledged" %
              (node.name, sum(created.values()), len(Load.acked)))
    return heads


def post_until_done(cluster, path, body, key, token=None, timeout=60):
    """POSTs through random nodes, retrying a 503 with the same Idempotency-Key."""
    deadline = time.time() + timeout
    while True:
        node = random.choice([n for n in cluster.nodes if n.alive()])
        status, _, answer = http("POST", node.url + path, token or cluster.ops, body,
                                 {"Idempotency-Key": key})
        if status != 503 or time.time() > deadline:
            return status, answer
        time.sleep(0.1)


def setup_tenants(cluster):
    tokens = {}
    names = []
    i = 0
    while {partition_of(n) for n in names} != set(range(PARTITIONS)) or len(names) < 4:
        names.append("tenant%d" % i)
        i += 1
    for name in names:
        status, answer = post_until_done(cluster, "/v1/admin/tenants", {"name": name},
                                         "tenant-" + name)
        check(status == 201, "tenant %s: %s" % (name, answer))
        status, answer = post_until_done(cluster, "/v1/admin/tokens",
                                         {"tenant": name, "actor": "owner-" + name,
                                          "role": "owner"}, "token-" + name)
        check(status == 201, "token for %s: %s" % (name, answer))
        tokens[name] = answer["token"]
    return tokens


def kill_an_owner(cluster, tokens):
    owners = cluster.await_owners()
    victim = cluster.node(owners[1])
    with Load(cluster, tokens) as load:
        time.sleep(2)
        before = len(Load.acked)
        started = time.time()
        victim.kill()
        owners = cluster.await_owners(spread=False)
        takeover = time.time() - started
        time.sleep(2)
    check(len(Load.acked) > before, "no command was acknowledged after the owner died")
    check_exactly_once(cluster, load)
    victim.start()
    heads = converge(cluster)
    print("  kill -9 %s: partition 1 taken over by %s in %.1f s; %d commands acknowledged "
          "(%d retries); heads %s" % (victim.name, owners[1], takeover, load.count(),
                                      load.retries, {p: h[0] for p, h in heads.items()}))
    return load


def pause_an_owner(cluster, tokens):
    owners = cluster.await_owners()
    victim = cluster.node(owners[0])
    with Load(cluster, tokens) as load:
        time.sleep(1)
        victim.kill(signal.SIGSTOP)
        victim.paused = True
        deadline = time.time() + 30
        while cluster.owners().get(0) in (None, victim.name):
            check(time.time() < deadline, "nobody took over from the paused owner")
            time.sleep(0.2)
        successor = cluster.owners()[0]
        time.sleep(2)
        victim.kill(signal.SIGCONT)
        victim.paused = False
        time.sleep(3)
    check_exactly_once(cluster, load)
    check("steps down from partition 0" in open(victim.log).read(),
          "the woken owner did not step down")
    print("  SIGSTOP %s: %s took partition 0; after SIGCONT it stepped down; %d commands, "
          "no fork" % (victim.name, successor, load.count()))


def read_frames(node, token, last_event_id, count, timeout=20):
    """(id, data) of the first `count` frames the stream sends after `last_event_id`."""
    host, port = node.url[len("http://"):].split(":")
    conn = HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    conn.request("GET", "/v1/events/stream", headers=headers)
    response = conn.getresponse()
    check(response.status == 200, "stream on %s: %d" % (node.name, response.status))
    frames, frame_id = [], None
    while len(frames) < count:
        line = response.fp.readline().decode()
        check(line != "", "the stream on %s ended" % node.name)
        if line.startswith("id: "):
            frame_id = line[4:].strip()
        elif line.startswith("data: "):
            frames.append((frame_id, json.loads(line[6:])))
    conn.close()
    return frames


def ops_stream_across_partitions(cluster, tokens):
    """An ops subscriber that names no partition follows them all; its ids carry every
    partition's position, so it resumes on another node without a gap or a duplicate."""
    with Load(cluster, tokens, writers=3):
        time.sleep(1)
        first = read_frames(cluster.nodes[0], cluster.ops, None, 40)
        second = read_frames(cluster.nodes[2], cluster.ops, first[-1][0], 40)
    seen = {}
    for frame_id, data in first + second:
        check(re.fullmatch(r"0:\d+,1:\d+", frame_id), "id %r carries no partitions" % frame_id)
        seen.setdefault(data["partition"], []).append(data["position"])
    check(set(seen) == {0, 1}, "the stream did not cover both partitions: %s" % seen.keys())
    for partition, positions in seen.items():
        check(positions == list(range(positions[0], positions[0] + len(positions))),
              "partition %d: a gap or a duplicate across the resume: %s" % (partition, positions))
    print("  an ops stream followed both partitions on %s and resumed on %s after id %s "
          "without a gap or a duplicate" % (cluster.nodes[0].name, cluster.nodes[2].name,
                                            first[-1][0]))


def read_stream(node, token, last_event_id, count, timeout=20):
    """The ids of the first `count` events the stream sends after `last_event_id`."""
    host, port = node.url[len("http://"):].split(":")
    conn = HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = str(last_event_id)
    conn.request("GET", "/v1/events/stream", headers=headers)
    response = conn.getresponse()
    check(response.status == 200, "stream on %s: %d" % (node.name, response.status))
    ids = []
    while len(ids) < count:
        line = response.fp.readline().decode()
        check(line != "", "the stream on %s ended" % node.name)
        if line.startswith("id: "):
            ids.append(int(line[4:]))
    conn.close()
    return ids


def follower_restart_and_stream_resume(cluster, tokens):
    owners = cluster.await_owners()
    tenant = next(t for t in sorted(tokens) if partition_of(t) == 1)
    followers = [n for n in cluster.nodes if n.name != owners[1]]
    first, second = followers[0], followers[1]
    token = tokens[tenant]
    with Load(cluster, {tenant: token}, writers=3) as load:
        time.sleep(1)
        first_ids = read_stream(first, token, None, 20)
        first.kill()
        time.sleep(1)
        resumed = read_stream(second, token, first_ids[-1], 20)
        time.sleep(1)
    first.start()
    check_exactly_once(cluster, load)
    status, _, page = http("GET", "%s/v1/events?limit=1000&from=%d" %
                           (second.url, first_ids[0]), token)
    expected = [e["position"] for e in page["events"]][:len(first_ids) + len(resumed)]
    check(first_ids + resumed == expected,
          "the resumed stream skipped or repeated events: %s + %s != %s" %
          (first_ids, resumed, expected))
    print("  follower %s killed and restarted caught up; a stream read %d events there and "
          "resumed on %s after id %d without a gap or a duplicate" %
          (first.name, len(first_ids), second.name, first_ids[-1]))


def requests_recorded_in_the_log_of_record(cluster, key):
    """How many commits in PostgreSQL keep the idempotency record of Idempotency-Key `key`."""
    return int(cluster.sql("SELECT count(*) FROM cledger_events WHERE "
                           "position(convert_to('%s', 'UTF8') in idem_key) > 0" % key))


def erase_through_a_follower(cluster, tokens):
    """Personal data sealed on the owner is readable everywhere; an erasure sent to a follower
    runs on the owner and destroys the subject's key on every node, and the log of record
    forgets the fingerprints of the requests made to the subject."""
    owners = cluster.await_owners()
    tenant = next(t for t in sorted(tokens) if partition_of(t) == 1)
    mine = [(k, v) for k, v in Load.acked.items() if v[0] == tenant]
    (key, (_, cid)), (other_key, _) = mine[0], mine[1]
    check(requests_recorded_in_the_log_of_record(cluster, key) == 1,
          "the request that created %s is not in the log of record" % cid)
    follower = next(n for n in cluster.nodes if n.name != owners[1])
    status, answer = post_until_done(cluster, "/v1/customers/%s/erase" % cid,
                                     {"reason": "asked by the data subject"}, "erase-" + cid,
                                     token=tokens[tenant])
    check(status == 200, "erasure: %s %s" % (status, answer))
    converge(cluster)
    for node in cluster.nodes:
        status, _, page = http("GET", "%s/v1/events?limit=1000" % node.url, tokens[tenant])
        mine = [e for e in page["events"] if e["stream"] == "customer-" + cid]
        check(mine and all(e.get("personal_data") == "erased" for e in mine if
                           e["type"] != "CustomerErased"),
              "%s still opens %s's personal data: %s" % (node.name, cid, mine[:2]))
    check(requests_recorded_in_the_log_of_record(cluster, key) == 0,
          "the log of record keeps the fingerprint of a request to erased %s" % cid)
    check(requests_recorded_in_the_log_of_record(cluster, other_key) == 1,
          "an erasure forgot another subject's request")
    print("  customer %s erased through %s: its personal data reads as erased on every node, "
          "and its requests' fingerprints are gone from the log of record" % (cid, follower.name))


def read_at_a_position_through_a_follower(cluster, tokens):
    """A read ?at= the position a command just answered, sent to a node that does not own the
    partition, waits for that node to apply it (as ?min_position= does) instead of refusing a
    position the cluster has reached."""
    owners = cluster.await_owners()
    tenant = next(t for t in sorted(tokens) if partition_of(t) == 0)
    owner = cluster.node(owners[0])
    follower = next(n for n in cluster.nodes if n.name != owners[0] and n.alive())
    for i in range(10):
        name, key = "Read at %d" % i, str(uuid.uuid4())
        status, head, answer = http("POST", owner.url + "/v1/customers", tokens[tenant],
                                    {"name": name, "email": "at%d@%s.test" % (i, tenant)},
                                    {"Idempotency-Key": key})
        check(status == 201, "create on the owner: %s %s" % (status, answer))
        Load.acked[key] = (tenant, answer["id"])
        at = head["X-Ledger-Position"]
        status, _, view = http("GET", "%s/v1/customers/%s?at=%s" % (follower.url, answer["id"], at),
                               tokens[tenant])
        check(status == 200 and view["name"] == name,
              "%s at %s on %s: %s %s" % (answer["id"], at, follower.name, status, view))
    print("  10 customers created on %s read at their positions on %s at once" %
          (owner.name, follower.name))


def lose_the_primary(cluster, tokens):
    with Load(cluster, tokens) as load:
        time.sleep(2)
        before = len(Load.acked)
        cluster.pg.kill_primary()
        started = time.time()
        cluster.pg.promote_standby()
        deadline = time.time() + 60
        while len(Load.acked) <= before + 20:
            check(time.time() < deadline, "writes did not resume after the promotion: %s" %
                  cluster.nodes[0].tail())
            time.sleep(0.2)
        resumed = time.time() - started
        time.sleep(1)
    check_exactly_once(cluster, load)
    print("  primary killed, standby promoted: writes resumed %.1f s later; %d commands "
          "acknowledged, none lost" % (resumed, load.count()))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cledger", default="build/tools/cledger")
    args = parser.parse_args()
    random.seed(7)
    cluster = Cluster(args.cledger, nodes=3, partitions=PARTITIONS)
    ok = False
    try:
        cluster.start()
        tokens = setup_tenants(cluster)
        for scenario in (kill_an_owner, pause_an_owner, follower_restart_and_stream_resume,
                         ops_stream_across_partitions, erase_through_a_follower,
                         read_at_a_position_through_a_follower, lose_the_primary):
            print(scenario.__name__)
            scenario(cluster, tokens)
        ok = True
    finally:
        if not ok:
            for node in cluster.nodes:
                print("---- %s\n%s" % (node.name, node.tail(40)))
        cluster.stop()
        cluster.remove()
    print("cluster: all scenarios passed")


if __name__ == "__main__":
    main()

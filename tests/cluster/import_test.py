#!/usr/bin/env python3
"""cledger cluster import on real processes: a single-node ledger with customers (personal
data sealed) pushed into a new cluster keeps its positions and hashes; its tokens, data and
idempotency records work on every node, and new commands continue its chain.

  python3 tests/cluster/import_test.py --cledger build/tools/cledger
"""

import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import Cluster, SingleNode, http  # noqa: E402


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def single_node_ledger(cledger, base):
    """A closed single-node ledger with 20 customers: (dir, owner token, ids, head)."""
    single = SingleNode(cledger, os.path.join(base, "single"))
    url, owner = single.url, single.owner
    try:
        ids = {}
        for i in range(20):
            status, _, body = http("POST", url + "/v1/customers", owner,
                                   {"name": "Customer %d" % i, "email": "c%d@acme.test" % i},
                                   {"Idempotency-Key": "import-%d" % i})
            check(status == 201, "create: %s" % body)
            ids["import-%d" % i] = body["id"]
        head = http("GET", url + "/v1/ledger/digest", single.ops)[2]
    finally:
        single.stop()
    return single.data, owner, ids, head


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cledger", default="build/tools/cledger")
    args = parser.parse_args()
    cluster = Cluster(args.cledger, nodes=2, partitions=2)
    data, owner, ids, head = single_node_ledger(cluster.cledger, cluster.base)
    cluster.master_key = data + ".master-key"  # the ledger's own becomes the cluster's

    def import_ledger(c):
        done = subprocess.run([c.cledger, "cluster", "import", "--pg", c.dsn, "--data", data],
                              capture_output=True, text=True)
        check(done.returncode == 0, "import: %s %s" % (done.stdout, done.stderr))
        again = subprocess.run([c.cledger, "cluster", "import", "--pg", c.dsn, "--data", data],
                               capture_output=True, text=True)
        check(again.returncode == 1 and "already holds events" in again.stderr,
              "a second import must be refused: %s" % again.stderr)

    ok = False
    try:
        cluster.start(before_nodes=import_ledger)
        for node in cluster.nodes:
            digest = http("GET", node.url + "/v1/ledger/digest?partition=0&min_position=%d" %
                          head["position"], cluster.ops)[2]
            # The node issued its ops token after the import: the imported head is a prefix.
            status, _, page = http("GET", node.url + "/v1/events?partition=0&from=%d&limit=1" %
                                   head["position"], cluster.ops)
            check(page["events"][0]["hash"] == head["hash"],
                  "%s: position %d has hash %s, the ledger had %s" %
                  (node.name, head["position"], page["events"][0]["hash"], head["hash"]))
            check(digest["position"] >= head["position"], "digest %s" % digest)
            for key, cid in ids.items():
                status, _, view = http("GET", node.url + "/v1/customers/" + cid, owner)
                check(status == 200 and view["name"].startswith("Customer"),
                      "%s: %s %s" % (node.name, status, view))
        # A retry of a command the single node answered is recognised by the cluster.
        status, _, body = http("POST", cluster.nodes[1].url + "/v1/customers", owner,
                               {"name": "Customer 0", "email": "c0@acme.test"},
                               {"Idempotency-Key": "import-0"})
        check(status == 201 and body["id"] == ids["import-0"], "retry: %s %s" % (status, body))
        status, headers, body = http("POST", cluster.nodes[1].url + "/v1/customers", owner,
                                     {"name": "After", "email": "after@acme.test"},
                                     {"Idempotency-Key": "after-import"})
        check(status == 201, "a new command: %s" % body)
        for node in cluster.nodes:
            status, _, report = http("GET", node.url + "/v1/ledger/verify?partition=0&"
                                     "min_position=" + headers["X-Ledger-Position"], cluster.ops)
            check(report["ok"], "%s verify: %s" % (node.name, report))
        ok = True
        print("import: %d events kept their positions and hashes; tokens, personal data and "
              "idempotency records work on every node; the chain continues" % head["position"])
    finally:
        if not ok:
            for node in cluster.nodes:
                print("---- %s\n%s" % (node.name, node.tail(30)))
        cluster.stop()
        cluster.remove()


if __name__ == "__main__":
    main()

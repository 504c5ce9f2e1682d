#!/usr/bin/env python3
"""GET /metrics must pass Prometheus' own checker: this test starts `cledger serve` on a fresh
data directory, makes a few requests (commands, reads, refusals, a stream) so the counters
and the histogram have samples, reads /metrics with the ops token and pipes it to
`promtool check metrics`. Any problem promtool reports fails the test, its lint warnings
included, and is printed as promtool said it.

Usage: python3 tests/api/metrics_promtool_test.py --cledger build/tools/cledger \
           [--promtool /usr/bin/promtool]

Standard library only (and promtool, from Debian's prometheus package).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse


def start(cledger, base):
    out_path = os.path.join(base, "serve.out")
    out = open(out_path, "w")
    process = subprocess.Popen(
        [cledger, "serve", "--data", os.path.join(base, "data"), "--listen", "127.0.0.1:0",
         "--ops-token", "12h", "--threads", "2"],
        stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 60
    text = ""
    while time.time() < deadline:
        text = open(out_path).read()
        if "Stop with" in text:
            break
        if process.poll() is not None:
            raise RuntimeError("cledger serve exited:\n" + text)
        time.sleep(0.05)
    else:
        stop(process)
        raise RuntimeError("cledger serve did not start:\n" + text)
    url = urllib.parse.urlsplit(re.search(r"serving (http://\S+)", text).group(1))
    owner = re.search(r"owner token\s+(\S+)", text).group(1)
    ops = re.search(r"ops token\s+(\S+)", text).group(1)
    return process, out, (url.hostname, url.port), owner, ops


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(address, method, path, token=None, body=None):
    connection = http.client.HTTPConnection(*address, timeout=60)
    try:
        headers = {}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def exercise(address, owner, ops):
    """A few requests of every kind, so that counters, the sync histogram and the response
    counts by status all have samples."""
    request(address, "POST", "/v1/customers", owner,
            {"id": "c1", "name": "Acme", "email": "ap@acme.test"})
    for i in range(5):
        request(address, "POST", "/v1/customers/c1/contacts", owner,
                {"id": "k%d" % i, "first_name": "N%d" % i})
    request(address, "PATCH", "/v1/contacts/k1", owner, {"title": "Dr"})
    request(address, "DELETE", "/v1/contacts/k2", owner)
    request(address, "POST", "/v1/customers", owner,
            {"id": "c1", "name": "Again", "email": "x@acme.test"})       # 409
    request(address, "GET", "/v1/customers/c1", owner)                  # 200
    request(address, "GET", "/v1/customers/nope", owner)                # 404
    request(address, "GET", "/v1/customers/c1")                         # 401
    request(address, "GET", "/v1/admin/stats", owner)                   # 403
    request(address, "GET", "/v1/events?limit=0", owner)                # 400
    request(address, "GET", "/v1/events?from=1", owner)
    # A stream subscriber, briefly.
    connection = http.client.HTTPConnection(*address, timeout=5)
    try:
        connection.request("GET", "/v1/events/stream?from=1",
                           headers={"Authorization": "Bearer " + owner})
        response = connection.getresponse()
        if response.status == 200:
            response.readline()
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cledger", required=True, help="the cledger binary")
    parser.add_argument("--promtool", default=shutil.which("promtool") or "/usr/bin/promtool")
    args = parser.parse_args()
    if not os.access(args.cledger, os.X_OK):
        print("FAIL: %s is not an executable cledger binary" % args.cledger)
        return 1
    started = time.time()
    if not os.path.exists(args.promtool):
        print("FAIL: promtool not found (Debian: apt-get install prometheus)")
        return 1
    base = tempfile.mkdtemp(prefix="cledger-promtool-")
    process = out = None
    try:
        process, out, address, owner, ops = start(os.path.abspath(args.cledger), base)
        exercise(address, owner, ops)
        status, content_type, body = request(address, "GET", "/metrics", ops)
    finally:
        if process is not None:
            stop(process)
        if out is not None:
            out.close()
        shutil.rmtree(base, ignore_errors=True)
    failures = []
    if status != 200:
        failures.append("GET /metrics answered %d: %s" % (status, body[:300]))
    elif not (content_type or "").startswith("text/plain"):
        failures.append("GET /metrics has Content-Type %r, not text/plain" % content_type)
    if status == 200:
        checked = subprocess.run([args.promtool, "check", "metrics"], input=body,
                                 capture_output=True)
        said = (checked.stdout + checked.stderr).decode("utf-8", "replace").strip()
        # promtool exits non-zero on errors; it prints lint problems ("NAME: text") also when
        # it exits 0, and every one of them fails this test.
        if checked.returncode != 0 or said:
            failures.append("promtool check metrics (exit %d) says:\n%s" % (
                checked.returncode, "\n".join("  " + line for line in said.splitlines())))
        families = len(re.findall(rb"^# TYPE ", body, re.M))
        samples = len([l for l in body.splitlines() if l and not l.startswith(b"#")])
        print("/metrics: %d bytes, %d metric families, %d samples" % (len(body), families,
                                                                      samples))
    for failure in failures:
        print("FAIL: " + failure)
    print("%s in %.1f s" % ("FAILED" if failures else "passed", time.time() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

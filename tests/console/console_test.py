#!/usr/bin/env python3
"""Drives the auditor console (GET /console) in a real headless Chromium.

Starts its own `cledger serve` on a fresh data directory and a free loopback port, writes a
small history through the HTTP API (a customer, a contact whose email is changed by a second
actor, more edits, a share), then signs in to the console with an auditor token and checks:
a bad token's problem message, the search, the contact's page and timeline (the email change
A -> B and who made it), the timeline filters, the "as of" slider (email A before the change),
a live update over the event stream, the verification state, keeping and checking a digest,
the audit-trail CSV and the evidence bundle downloads, and sign-out. Screenshots of each step
go to --out.

Only the Python standard library and WebDriver over HTTP (chromedriver) are used.

    python3 tests/console/console_test.py --cledger build/tools/cledger --out build/console-shots
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 10.0            # seconds to wait for anything to appear
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
KEY_ENTER = "\ue007"
KEY_HOME = "\ue011"
KEY_END = "\ue010"


class Failure(Exception):
    pass


CHECKED = []


def check(what):
    CHECKED.append(what)
    print(f"  ok  {what}", flush=True)


# ---- Processes ---------------------------------------------------------------------------------


def kill_group(proc, grace=5.0):
    """Ends a process started with start_new_session=True, and whatever is left in its group."""
    if proc is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`cledger serve` on a fresh data directory; its URL and tokens read from its output."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.proc = None
        self.lines = []
        self.url = self.owner = self.ops = None

    def start(self, listen="127.0.0.1:0"):
        """Starts the server; again on the same data directory and `listen` to restart it."""
        data = os.path.join(self.workdir, "data")
        self.stderr = open(os.path.join(self.workdir, "server.log"), "ab")
        self.lines = []
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--data", data, "--listen", listen, "--ops-token", "12h"],
            stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL,
            start_new_session=True, text=True)
        reader = threading.Thread(target=self._read, daemon=True)
        reader.start()
        first = self.url is None
        deadline = time.time() + 30
        while time.time() < deadline:
            text = "\n".join(self.lines)
            url = re.search(r"serving (https?://[0-9.]+:\d+)", text)
            owner = re.search(r"owner token\s+(clt_[0-9a-f]+)", text)
            ops = re.search(r"ops token\s+(clt_[0-9a-f]+)", text)
            if url and ops and (owner or not first):
                self.url, self.ops = url.group(1), ops.group(1)
                if owner:
                    self.owner = owner.group(1)
                break
            if self.proc.poll() is not None:
                raise Failure(f"cledger serve exited with {self.proc.returncode}: {self.log_tail()}")
            time.sleep(0.05)
        else:
            raise Failure(f"cledger serve printed no URL and tokens within 30 s: {self.log_tail()}")
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise Failure("the server never became ready (/readyz)")

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def log_tail(self):
        try:
            with open(os.path.join(self.workdir, "server.log"), "rb") as f:
                return f.read()[-2000:].decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        kill_group(self.proc)
        if getattr(self, "stderr", None):
            self.stderr.close()

    def restart(self):
        listen = self.url.split("://", 1)[1]
        self.stop()
        self.start(listen)


def call(server, method, path, token=None, body=None, headers=None, expect=(200, 201, 204)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(server.url + path, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    if status not in expect:
        raise Failure(f"{method} {path} answered {status}: {raw[:300]!r}")
    return json.loads(raw) if raw.strip() else None


# ---- WebDriver ---------------------------------------------------------------------------------


class Browser:
    def __init__(self, workdir):
        self.workdir = workdir
        self.driver = None
        self.session = None
        self.base = None
        self.downloads = os.path.join(workdir, "downloads")
        os.makedirs(self.downloads, exist_ok=True)

    def start(self):
        for _ in range(5):
            port = free_port()
            self.log = open(os.path.join(self.workdir, "chromedriver.log"), "wb")
            self.driver = subprocess.Popen([CHROMEDRIVER, f"--port={port}"], stdout=self.log,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True)
            self.base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 15
            while time.time() < deadline and self.driver.poll() is None:
                try:
                    if self._http("GET", "/status").get("ready"):
                        break
                except (urllib.error.URLError, OSError, Failure):
                    time.sleep(0.1)
            else:
                kill_group(self.driver)
                self.log.close()
                continue
            break
        else:
            raise Failure("chromedriver did not start")
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,900",
                         "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                         "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1",
                         f"--user-data-dir={os.path.join(self.workdir, 'profile')}"],
                "prefs": {"download.default_directory": self.downloads,
                          "download.prompt_for_download": False,
                          "safebrowsing.enabled": False},
            },
        }}}
        self.session = self._http("POST", "/session", caps, timeout=60)["sessionId"]
        # Allow downloads in headless mode (Chrome DevTools command through chromedriver).
        try:
            self._http("POST", f"/session/{self.session}/goog/cdp/execute",
                       {"cmd": "Browser.setDownloadBehavior",
                        "params": {"behavior": "allow", "downloadPath": self.downloads}})
        except Failure:
            pass

    def _http(self, method, path, body=None, timeout=30):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                payload = json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read()).get("value", {})
            except ValueError:
                err = {}
            raise Failure(f"WebDriver {method} {path}: {err.get('error', e.code)}: "
                          f"{str(err.get('message', ''))[:300]}")
        return payload.get("value", payload) if isinstance(payload, dict) else payload

    def cmd(self, method, path, body=None):
        return self._http(method, f"/session/{self.session}{path}", body)

    def quit(self):
        if self.session:
            try:
                self._http("DELETE", f"/session/{self.session}", timeout=15)
            except (Failure, urllib.error.URLError, OSError):
                pass
            self.session = None
        kill_group(self.driver)
        if getattr(self, "log", None):
            self.log.close()

    # Conveniences
    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        found = self.cmd("POST", "/elements", {"using": "css selector", "value": css})
        return found[0][ELEMENT] if found else None

    def wait(self, what, fn, timeout=WAIT):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = fn()
                if last:
                    return last
            except Failure as e:
                last = e
            time.sleep(0.1)
        raise Failure(f"timed out after {timeout:.0f} s waiting for {what} (last: {str(last)[:300]!r})")

    def element(self, css, timeout=WAIT):
        """A visible element matching css."""
        def visible():
            el = self.find(css)
            if el and self.cmd("GET", f"/element/{el}/displayed"):
                return el
            return None
        return self.wait(f"a visible {css}", visible, timeout)

    def click(self, css):
        self.cmd("POST", f"/element/{self.element(css)}/click", {})

    def type(self, css, text, clear=True):
        el = self.element(css)
        if clear:
            self.cmd("POST", f"/element/{el}/clear", {})
        self.cmd("POST", f"/element/{el}/value", {"text": text})

    def text(self, css):
        return self.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : '';", css)

    def wait_text(self, css, *needles, timeout=WAIT, absent=()):
        def has():
            t = self.text(css)
            return t if all(n in t for n in needles) and not any(a in t for a in absent) else None
        return self.wait(f"{css} to show {needles}" + (f" without {absent}" if absent else ""), has,
                         timeout)

    def screenshot(self, path):
        png = base64.b64decode(self.cmd("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        print(f"  --  screenshot {path}", flush=True)

    def no_error_banner(self, where):
        shown = self.js("const b = document.getElementById('error-banner');"
                        "return b && !b.hidden ? b.innerText : '';")
        if shown:
            raise Failure(f"an error banner is shown {where}: {shown}")


# ---- The scenario ------------------------------------------------------------------------------


def make_history(server):
    owner, ops = server.owner, server.ops
    bob = call(server, "POST", "/v1/admin/tokens", ops,
               {"tenant": "demo", "actor": "bob", "role": "admin", "expires_in": "1h"})["token"]
    auditor = call(server, "POST", "/v1/admin/tokens", ops,
                   {"tenant": "demo", "actor": "carol-auditor", "role": "auditor",
                    "expires_in": "1h"})["token"]
    call(server, "POST", "/v1/customers", owner,
         {"id": "acme", "name": "Acme Industries", "email": "ap@acme.test", "bill_format": "full"})
    call(server, "POST", "/v1/customers", owner,
         {"id": "globex", "name": "Globex", "email": "billing@globex.test", "bill_format": "short"})
    created = call(server, "POST", "/v1/customers/acme/contacts", owner,
                   {"id": "ann-lee", "first_name": "Ann", "last_name": "Lee",
                    "email": "ann@acme.test", "company_name": "Acme Industries",
                    "communication": {"email_bill": "short"}})
    call(server, "POST", "/v1/customers/acme/contacts", owner,
         {"id": "raj-patel", "first_name": "Raj", "last_name": "Patel", "email": "raj@acme.test"})
    call(server, "POST", "/v1/contacts/ann-lee/convert-to-shared", owner)
    call(server, "POST", "/v1/customers/globex/shared-contacts", owner, {"contact_id": "ann-lee"},
         expect=(200, 201, 204))
    call(server, "PATCH", "/v1/contacts/ann-lee", bob, {"email": "ann.lee@acme.test"},
         headers={"X-Request-ID": "ticket-4711"})
    call(server, "PATCH", "/v1/contacts/ann-lee", owner,
         {"position": "CFO", "phones": [{"type": "mobile", "number": "+44 7700 900123"}]})
    history = call(server, "GET", "/v1/contacts/ann-lee/history", auditor)["items"]
    change = [e for e in history
              if any(c["field"] == "email" and c["after"] == "ann.lee@acme.test"
                     for c in e["changes"])]
    if not change or change[0]["actor"]["id"] != "bob":
        raise Failure(f"the API's history lacks bob's email change: {history}")
    return {"bob": bob, "auditor": auditor, "created_at": created["created"],
            "create_pos": history[0]["position"], "change_pos": change[0]["position"],
            "entries": len(history)}


def scenario(server, browser, out):
    h = make_history(server)
    check(f"history written through the API: {h['entries']} timeline entries for contact ann-lee, "
          f"email changed by bob at position {h['change_pos']}")
    b = browser

    # Sign in: first a bad token (the problem's message is shown), then the auditor token.
    b.go(server.url + "/console")
    b.element("#signin-token")
    csp = urllib.request.urlopen(server.url + "/console").headers.get("Content-Security-Policy", "")
    if "script-src 'self'" not in csp:
        raise Failure(f"/console is served without the expected CSP: {csp!r}")
    b.type("#signin-token", "clt_not_a_real_token" + KEY_ENTER)
    b.wait_text("#signin-error", "unauthenticated")
    b.screenshot(os.path.join(out, "00-sign-in.png"))
    check("a bad token shows the server's problem message: "
          + b.text("#signin-error").strip())
    b.type("#signin-token", h["auditor"] + KEY_ENTER)   # Enter submits the form
    b.element("#view-search")
    b.wait_text("#whoami", "Signed in")
    stored = b.js("return sessionStorage.getItem('cledger.console.token') === arguments[0] &&"
                  " localStorage.getItem('cledger.console.token') === null;", h["auditor"])
    if not stored:
        raise Failure("the token is not (only) in sessionStorage")
    check("signed in with the auditor token (kept in sessionStorage only)")
    b.wait("the live indicator", lambda: b.js(
        "return document.getElementById('live').dataset.state === 'on';"))
    check("the live indicator is on (event stream followed over fetch)")

    # Search and open the contact.
    b.type("#search-q", "ann" + KEY_ENTER)
    b.wait_text("#search-results", "Ann Lee", "ann.lee@acme.test", absent=("Raj",))
    check("searching 'ann' lists Ann Lee and not Raj Patel")
    b.wait_text("#event-list", "Contact edited")
    b.no_error_banner("after the search")
    b.screenshot(os.path.join(out, "01-search.png"))
    b.click('#search-results a[href="#/contacts/ann-lee"]')
    b.element("#view-record")
    b.wait_text("#record-title", "Ann Lee")
    b.wait("every timeline entry", lambda: b.js(
        "return document.querySelectorAll('#timeline li').length;") == h["entries"])
    entry = f'#timeline li[data-position="{h["change_pos"]}"]'
    b.wait_text(entry, "email", "ann@acme.test", "ann.lee@acme.test", "bob", "admin")
    check(f"the timeline shows the email change ann@acme.test -> ann.lee@acme.test by bob (admin) "
          f"at position {h['change_pos']}")
    b.wait_text(entry, "ticket-4711", "event hash")
    check("the entry shows its correlation id (the X-Request-ID ticket-4711) and event hash")
    b.wait_text("#record-system", "Created", "Last modified", "Deleted")
    check("System Information shows created, last modified and deleted")
    b.wait_text("#asof-label", "now")
    b.no_error_banner("on the contact page")
    b.screenshot(os.path.join(out, "02-contact.png"))

    # Filter the timeline by actor: only bob's entry remains; then by field.
    b.click('#tl-actor option[value="bob"]')
    b.wait("only bob's entries", lambda: b.js(
        "return [...document.querySelectorAll('#timeline li')].map(li => li.dataset.position)"
        ".join(',');") == str(h["change_pos"]))
    b.click('#tl-actor option[value=""]')
    b.click('#tl-field option[value="phones[0]"]')
    b.wait("only the phone change", lambda: b.js(
        "return document.querySelectorAll('#timeline li').length;") == 1)
    b.wait_text("#timeline", "+44 7700 900123")
    b.click('#tl-field option[value=""]')
    check("the timeline filters by actor and by field")

    # The slider: Home goes to the first step (the creation), before bob's change.
    slider = b.element("#asof")
    b.cmd("POST", f"/element/{slider}/click", {})
    b.cmd("POST", f"/element/{slider}/value", {"text": KEY_HOME})
    b.wait_text("#asof-label", f"position {h['create_pos']}")
    b.wait_text("#record-fields", "ann@acme.test", "now: ann.lee@acme.test")
    shown_email = b.js(
        "const dts = [...document.querySelectorAll('#record-fields dt')];"
        "const dt = dts.find(d => d.textContent === 'Email');"
        "return dt ? dt.nextElementSibling.firstChild.textContent : '';")
    if shown_email != "ann@acme.test":
        raise Failure(f"as of position {h['create_pos']} the email reads {shown_email!r}")
    hash_now = b.js("return location.hash;")
    if f"at={h['create_pos']}" not in hash_now:
        raise Failure(f"the address does not keep the as-of position: {hash_now}")
    check(f"the slider at position {h['create_pos']} (before the change) shows email "
          f"ann@acme.test, labelled '{b.text('#asof-label').strip()}'")
    b.no_error_banner("after moving the slider")
    b.screenshot(os.path.join(out, "03-as-of.png"))
    b.cmd("POST", f"/element/{slider}/value", {"text": KEY_END})
    b.wait_text("#asof-label", "now")
    b.wait_text("#record-fields", "ann.lee@acme.test")
    check("the slider's newest step is 'now' and shows email ann.lee@acme.test")

    # A reload keeps the page (hash routing) and the session (sessionStorage).
    b.js("location.reload();")
    b.wait_text("#record-title", "Ann Lee")
    b.wait("the timeline after a reload", lambda: b.js(
        "return document.querySelectorAll('#timeline li').length;") == h["entries"])
    b.wait("the live indicator after a reload", lambda: b.js(
        "return document.getElementById('live').dataset.state === 'on';"))
    check("a reload keeps the session and the contact page")

    # Live: an edit made elsewhere appears without a reload.
    call(server, "PATCH", "/v1/contacts/ann-lee", h["bob"], {"department": "Finance"})
    b.wait_text("#record-fields", "Finance")
    b.wait("the new timeline entry", lambda: b.js(
        "return document.querySelectorAll('#timeline li').length;") == h["entries"] + 1)
    b.wait_text("#record-live-note", "Updated live")
    b.wait_text("#timeline", "department", "Finance", "bob")
    check("an edit made through the API appears live (record, timeline and event list)")

    # The stream drops (the server restarts); the console reconnects with Last-Event-ID and
    # misses nothing.
    server.restart()
    call(server, "PATCH", "/v1/contacts/ann-lee", h["bob"], {"title": "Prof."}, expect=(200,))
    b.wait_text("#record-title", "Prof. Ann Lee", timeout=20)
    b.wait("the timeline entry of the edit after the restart", lambda: b.js(
        "return document.querySelectorAll('#timeline li').length;") == h["entries"] + 2)
    b.wait("the live indicator after the restart", lambda: b.js(
        "return document.getElementById('live').dataset.state === 'on';"))
    dupes = b.js("const p = [...document.querySelectorAll('#event-list .ev-pos')].map(e => e.textContent);"
                 "return p.filter((x, i) => p.indexOf(x) !== i);")
    if dupes:
        raise Failure(f"events listed twice after the reconnect: {dupes}")
    check("after the server restarts, the stream reconnects (Last-Event-ID) and the next edit "
          "appears live, with no event listed twice")

    # Verification.
    b.click('nav a[data-nav="ledger"]')
    b.wait_text("#verify-state", "Ledger verified", "Events checked")
    b.wait_text("#digest-state", "Position", "Hash")
    check("the verification state shows ok: " + b.text("#verify-state .verdict-text").strip())
    b.click("#digest-keep")
    b.wait_text("#digest-keep-note", "Kept the digest")
    b.wait("a kept digest", lambda: b.js("return document.querySelectorAll('#kept-list tbody tr')"
                                         ".length;") == 1)
    kept = json.loads(b.js("return localStorage.getItem('cledger.console.keptDigests');"))[0]
    check(f"'Keep this digest' stored position {kept['position']} in localStorage")
    # The ledger moves on; the kept digest must still be consistent with it.
    call(server, "PATCH", "/v1/contacts/raj-patel", h["bob"], {"position": "Buyer"})
    call(server, "PATCH", "/v1/contacts/raj-patel", h["bob"], {"department": "Purchasing"})
    b.click("#kept-list tbody tr button")
    b.wait_text("#check-result", "Consistent", "consistency proof")
    check("the kept digest checks as consistent after the ledger grew (consistency proof "
          "verified in the browser)")
    b.no_error_banner("on the verification page")
    b.screenshot(os.path.join(out, "04-verification.png"))
    # A digest that does not match: the head's position with another hash.
    head = call(server, "GET", "/v1/ledger/digest", h["auditor"])
    b.type("#check-input", f"{head['position']} {'0' * 64}" + KEY_ENTER)
    b.wait_text("#check-result", "Not consistent")
    check("a digest with a wrong hash at the head's position checks as not consistent")
    # An earlier digest given as text, for one of this tenant's own events.
    ev = call(server, "GET", f"/v1/events?from={h['change_pos']}&limit=1", h["auditor"])["events"][0]
    b.type("#check-input", f"{ev['position']}:{ev['hash']}" + KEY_ENTER)
    b.wait_text("#check-result", "Consistent")
    check("a 'POSITION:HASH' digest of an earlier position checks as consistent")

    # Audit trail: the table, then the CSV.
    b.click('nav a[data-nav="audit"]')
    b.wait_text("#audit-results", "ann.lee@acme.test", "bob")
    b.click("#audit-download")
    b.wait_text("#audit-note", "Saved audit-")
    name = re.search(r"(audit-[0-9TZ-]+\.csv)", b.text("#audit-note")).group(1)
    path = os.path.join(b.downloads, name)
    b.wait("the CSV file", lambda: os.path.exists(path) and os.path.getsize(path) > 0)
    with open(path, newline="") as f:
        csv_text = f.read()
    header = csv_text.split("\n", 1)[0].strip()
    if not header.startswith("position,recorded_at,") or ",field,before,after" not in header:
        raise Failure(f"the CSV has an unexpected header: {header!r}")
    if "ann@acme.test,ann.lee@acme.test" not in csv_text:
        raise Failure("the CSV lacks the email change ann@acme.test -> ann.lee@acme.test")
    check("the audit trail downloads as CSV: " + b.text("#audit-note").strip())
    b.no_error_banner("on the audit page")
    b.screenshot(os.path.join(out, "05-audit.png"))

    # Evidence bundle download, from the contact page.
    b.go(server.url + "/console#/contacts/ann-lee")
    b.wait_text("#record-title", "Ann Lee")
    # Evidence bundle download.
    b.click("#record-evidence")
    b.wait_text("#toast", "evidence-contact-ann-lee.json")
    path = os.path.join(b.downloads, "evidence-contact-ann-lee.json")
    b.wait("the evidence file", lambda: os.path.exists(path) and os.path.getsize(path) > 0)
    with open(path) as f:
        bundle = json.load(f)
    if bundle.get("format") != "contact-ledger-evidence/v1" or not bundle.get("events"):
        raise Failure(f"the evidence bundle looks wrong: {str(bundle)[:200]}")
    check(f"the evidence bundle downloads as JSON ({len(bundle['events'])} events)")
    b.click("#record-csv")
    b.wait_text("#toast", "Saved audit-contact-ann-lee-")
    name = re.search(r"(audit-contact-ann-lee-[0-9TZ-]+\.csv)", b.text("#toast")).group(1)
    path = os.path.join(b.downloads, name)
    b.wait("the contact's CSV file", lambda: os.path.exists(path) and os.path.getsize(path) > 0)
    with open(path, newline="") as f:
        rows = f.read().splitlines()[1:]
    if not rows or any("contact-ann-lee" not in r for r in rows):
        raise Failure(f"the contact's CSV holds other records' rows: {rows[:3]}")
    check(f"the contact's own audit trail downloads as CSV ({len(rows)} rows, all of contact-ann-lee)")


    # Open by id, and a record that does not exist.
    b.click('nav a[data-nav="search"]')
    b.click('#open-kind option[value="customers"]')
    b.type("#open-id", "acme" + KEY_ENTER)
    b.wait_text("#record-title", "Acme Industries")
    b.wait_text("#record-contacts", "Ann Lee", "Raj Patel")
    check("opening customer 'acme' by id shows it and its contacts")
    b.screenshot(os.path.join(out, "06-customer.png"))
    b.go(server.url + "/console#/contacts/nobody")
    b.wait_text("#record-error", "nobody")
    check("an unknown contact id shows an inline not-found state: "
          + b.text("#record-error").replace("\n", " ").strip())

    # Keyboard: the controls are reachable with Tab and show a focus ring.
    b.go(server.url + "/console#/contacts/ann-lee")
    b.wait_text("#record-title", "Ann Lee")
    b.wait("every timeline entry", lambda: b.js(
        "return document.querySelectorAll('#timeline li').length;") == h["entries"] + 2)
    reached = []
    for _ in range(80):
        b.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": "\ue004"}, {"type": "keyUp", "value": "\ue004"}]}]})
        reached.append(b.js("const e = document.activeElement;"
                            "return e ? (e.id || e.getAttribute('href') || e.tagName) : '';"))
    wanted = ["sign-out", "record-refresh", "record-evidence", "asof", "tl-field", "tl-actor",
              "tl-order", "#/ledger", "#/audit"]
    missing = [w for w in wanted if w not in reached]
    if missing:
        raise Failure(f"Tab never reached {missing} (reached {reached})")
    check("Tab reaches the navigation, sign-out, the record's buttons, the slider and the filters")
    outline = b.js("""
        const btn = document.getElementById('record-refresh');
        btn.focus();
        const s = getComputedStyle(btn);
        return s.outlineStyle + ' ' + s.outlineWidth;""")
    unlabelled = b.js("""
        return [...document.querySelectorAll('input, select, textarea')]
          .filter(e => e.type !== 'hidden' && !(e.id && document.querySelector(`label[for="${e.id}"]`)))
          .map(e => e.id || e.name || e.outerHTML.slice(0, 60));""")
    if unlabelled:
        raise Failure(f"inputs without a <label for>: {unlabelled}")
    check(f"every input has a <label for>; focus shows an outline ({outline})")

    # Sign out clears the token.
    b.click("#sign-out")
    b.element("#signin-token")
    if b.js("return sessionStorage.getItem('cledger.console.token');") is not None:
        raise Failure("sign-out left the token in sessionStorage")
    check("'Sign out' returns to the sign-in form and clears sessionStorage")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cledger", required=True, help="the cledger binary")
    parser.add_argument("--out", required=True, help="directory for the screenshots")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    binary = os.path.abspath(args.cledger)
    if not os.access(binary, os.X_OK) or os.path.isdir(binary):
        print(f"FAIL: {binary} is not an executable", file=sys.stderr)
        return 2
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            print(f"FAIL: {tool} is missing (apt-get install chromium chromium-driver)",
                  file=sys.stderr)
            return 2
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    stale = os.path.join(out, "failure.png")
    if os.path.exists(stale):
        os.remove(stale)
    workdir = tempfile.mkdtemp(prefix="cledger-console-test-")
    server = Server(binary, workdir)
    browser = Browser(workdir)
    started = time.time()
    status = 0
    try:
        print("console test: starting cledger serve and chromedriver", flush=True)
        server.start()
        browser.start()
        scenario(server, browser, out)
    except Failure as e:
        status = 1
        print(f"FAIL: {e}", file=sys.stderr)
        if browser.session:
            try:
                browser.screenshot(os.path.join(out, "failure.png"))
            except Exception:  # noqa: BLE001 - best effort, the failure is already reported
                pass
        tail = server.log_tail()
        if tail:
            print("--- server log (tail) ---\n" + tail, file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
    except Exception:  # noqa: BLE001 - report anything unexpected as a failure, then clean up
        status = 1
        import traceback
        print("FAIL: unexpected error\n" + traceback.format_exc(), file=sys.stderr)
    finally:
        browser.quit()
        server.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.time() - started
    if status == 0:
        print(f"PASS: {len(CHECKED)} checks in {elapsed:.1f} s; screenshots in {out}")
    return status


if __name__ == "__main__":
    sys.exit(main())

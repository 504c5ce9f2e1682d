#!/usr/bin/env python3
"""schemas/openapi.yaml is the HTTP contract, both ways: this test starts `cledger serve` on a
fresh data directory, builds a small history, calls every operation the document lists (its
successes and its main errors) and holds every answer to the document:

  * the status must be documented for the operation;
  * the Content-Type must be one documented for that status;
  * a JSON body must validate against the documented schema, read strictly: $refs resolved,
    `nullable` as a null type, and every object that does not say otherwise closed
    (`additionalProperties: false`), so an undocumented field fails as a missing one does;
    enums, patterns and formats (date-time, uuid, email, uri, int64, byte) are checked;
  * headers marked `required` must be there, and every header the server sends beyond the
    transport's own (Content-Length, Date, Server, ...) must be documented for that answer;
  * every query parameter an operation documents is accepted, and any other is
    `400 invalid_query` naming it;
  * every operation must have answered a success at least once.

Usage: python3 tests/api/openapi_conformance_test.py --cledger build/tools/cledger \
           --spec schemas/openapi.yaml

Prints one line per violation (operation, status, JSON path, message) and a summary of the
operations and answers checked; exits 1 on any violation. Standard library plus PyYAML and
jsonschema (4.10 or newer).
"""

import argparse
import base64
import copy
import csv
import datetime
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse

import jsonschema
import yaml

# ---- Ed25519 signing (RFC 8032 §5.1), for a witness's cosignature ---------------------------

_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_I = pow(2, (_P - 1) // 4, _P)


def _add(a, b):
    pa = (a[1] - a[0]) * (b[1] - b[0]) % _P
    pb = (a[1] + a[0]) * (b[1] + b[0]) % _P
    pc = 2 * a[3] * b[3] * _D % _P
    pd = 2 * a[2] * b[2] % _P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _encode(p):
    zi = pow(p[2], _P - 2, _P)
    x, y = p[0] * zi % _P, p[1] * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _base_point():
    y = 4 * pow(5, _P - 2, _P) % _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _I % _P
    if x & 1:
        x = _P - x
    return (x, y, 1, x * y % _P)


_B = _base_point()


def _secret(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def ed25519_public_key(seed):
    return _encode(_mul(_secret(seed)[0], _B))


def ed25519_sign(seed, message):
    a, prefix = _secret(seed)
    public = _encode(_mul(a, _B))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    big_r = _encode(_mul(r, _B))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % _L
    return big_r + ((r + k * a) % _L).to_bytes(32, "little")


def head_message(head):
    return ("contact-ledger/tree-head/v1\n%d\n%s\n%d\n" %
            (head["tree_size"], head["root_hash"], head["timestamp_us"])).encode("ascii")


# ---- The document, made strict ------------------------------------------------------------

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# OpenAPI keywords that say nothing a validator checks.
IGNORED_KEYWORDS = ("example", "examples", "xml", "discriminator", "externalDocs", "deprecated",
                    "readOnly", "writeOnly")
# Headers of the transport itself, which no operation documents.
TRANSPORT_HEADERS = {"content-type", "content-length", "server", "connection", "date",
                     "keep-alive", "transfer-encoding"}
# Carried by every answer and documented once, in the document's description.
EVERY_ANSWER_HEADERS = {"cache-control": "Every answer carries `Cache-Control: no-store`"}


class Spec:
    def __init__(self, path):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.operations = {}  # (METHOD, template) -> Operation
        for template, item in self.doc["paths"].items():
            common = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    self.operations[(method.upper(), template)] = Operation(
                        self, method.upper(), template, item[method], common)
        self._compiled = {}

    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("only local $refs are supported: " + ref)
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            seen += 1
            if seen > 50:
                raise ValueError("a $ref cycle at " + ref)
        return node

    def strict(self, schema, depth=0):
        """The JSON Schema (draft 7) reading of an OpenAPI 3.0 schema, refs inlined, closed."""
        if depth > 60:
            raise ValueError("schema nests too deep (a recursive $ref?)")
        schema = self.resolve(schema)
        if not isinstance(schema, dict):
            return schema
        out = {}
        for key, value in schema.items():
            if key in IGNORED_KEYWORDS or key == "nullable":
                continue
            if key in ("properties", "patternProperties"):
                out[key] = {k: self.strict(v, depth + 1) for k, v in value.items()}
            elif key in ("items", "not") or (key == "additionalProperties" and
                                              isinstance(value, dict)):
                out[key] = self.strict(value, depth + 1)
            elif key in ("allOf", "oneOf", "anyOf"):
                out[key] = [self.strict(v, depth + 1) for v in value]
            else:
                out[key] = copy.deepcopy(value)
        if "allOf" in out:
            out = self._merge_all_of(out)
        is_object = out.get("type") == "object" or "properties" in out
        if is_object and "additionalProperties" not in out:
            out["additionalProperties"] = False
        if schema.get("nullable") is True:
            if "type" in out:
                out["type"] = [out["type"], "null"] if isinstance(out["type"], str) \
                    else list(out["type"]) + ["null"]
                if "enum" in out and None not in out["enum"]:
                    out["enum"] = list(out["enum"]) + [None]
            else:
                out = {"anyOf": [out, {"type": "null"}]}
        return out

    @staticmethod
    def _merge_all_of(schema):
        """allOf of objects as one object, so closing each part does not refuse the others'
        fields."""
        parts = schema.pop("allOf")
        merged = dict(schema)
        for part in parts:
            for key, value in part.items():
                if key == "properties":
                    merged.setdefault("properties", {}).update(value)
                elif key == "required":
                    merged["required"] = sorted(set(merged.get("required", [])) | set(value))
                elif key == "additionalProperties":
                    if value is not False:
                        merged[key] = value
                else:
                    merged.setdefault(key, value)
        return merged

    def validator(self, schema):
        key = json.dumps(schema, sort_keys=True, default=str)
        if key not in self._compiled:
            strict = self.strict(schema)
            jsonschema.Draft7Validator.check_schema(strict)
            self._compiled[key] = jsonschema.Draft7Validator(strict, format_checker=FORMATS)
        return self._compiled[key]


class Operation:
    def __init__(self, spec, method, template, node, common):
        self.method = method
        self.template = template
        self.node = node
        params = {}
        for p in list(common) + list(node.get("parameters", [])):
            p = spec.resolve(p)
            params[(p["in"], p["name"].lower() if p["in"] == "header" else p["name"])] = p
        self.parameters = params
        self.query = {name for (where, name) in params if where == "query"}
        # Parameters only a cluster node takes (`x-cluster-only`): a single server refuses them.
        self.cluster_query = {name for (where, name), p in params.items()
                              if where == "query" and p.get("x-cluster-only")}
        self.secured = node.get("security", spec.doc.get("security", [])) != []
        self.responses = {str(k): spec.resolve(v) for k, v in node.get("responses", {}).items()}

    @property
    def name(self):
        return "%s %s" % (self.method, self.template)


# ---- Formats ------------------------------------------------------------------------------

FORMATS = jsonschema.FormatChecker(formats=())
RFC3339 = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")


@FORMATS.checks("date-time")
def _date_time(value):
    if not isinstance(value, str):
        return True
    m = RFC3339.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60


@FORMATS.checks("uuid")
def _uuid(value):
    return not isinstance(value, str) or re.fullmatch(
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        value) is not None


@FORMATS.checks("email")
def _email(value):
    return not isinstance(value, str) or re.fullmatch(r"[^@\s]+@[^@\s]+", value) is not None


@FORMATS.checks("uri")
def _uri(value):
    return not isinstance(value, str) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", value) is not None


@FORMATS.checks("uri-reference")
def _uri_reference(value):
    return not isinstance(value, str) or (" " not in value and value != "")


@FORMATS.checks("int64")
def _int64(value):
    return not isinstance(value, int) or -2**63 <= value < 2**64


@FORMATS.checks("int32")
def _int32(value):
    return not isinstance(value, int) or -2**31 <= value < 2**31


@FORMATS.checks("byte")
def _byte(value):
    if not isinstance(value, str):
        return True
    try:
        base64.b64decode(value, validate=True)
        return True
    except ValueError:
        return False


def json_path(parts):
    out = "$"
    for p in parts:
        out += "[%d]" % p if isinstance(p, int) else "." + str(p)
    return out


# ---- HTTP ---------------------------------------------------------------------------------

class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # [(name, value)], as sent
        self.body = body
        self._json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def media_type(self):
        value = self.header("Content-Type")
        return value.split(";")[0].strip().lower() if value else None

    @property
    def json(self):
        if self._json is None:
            self._json = json.loads(self.body)
        return self._json


# ---- The run ------------------------------------------------------------------------------

class Server:
    def __init__(self, cledger, base, extra_args):
        self.base = base
        self.data = os.path.join(base, "data")
        self.out_path = os.path.join(base, "serve.out")
        self.out = open(self.out_path, "w")
        self.process = subprocess.Popen(
            [cledger, "serve", "--data", self.data, "--listen", "127.0.0.1:0", "--ops-token",
             "12h", "--threads", "2"] + extra_args,
            stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        text = ""
        while time.time() < deadline:
            text = open(self.out_path).read()
            if "Stop with" in text:
                break
            if self.process.poll() is not None:
                raise RuntimeError("cledger serve exited:\n" + text)
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("cledger serve did not start:\n" + text)
        self.url = re.search(r"serving (http://\S+)", text).group(1)
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname, parsed.port
        self.owner = re.search(r"owner token\s+(\S+)", text).group(1)
        self.ops = re.search(r"ops token\s+(\S+)", text).group(1)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.out.close()

    def log_tail(self, lines=20):
        try:
            return "".join(open(self.out_path).readlines()[-lines:])
        except OSError:
            return ""


class Conformance:
    def __init__(self, spec, server, verbose=False):
        self.spec = spec
        self.server = server
        self.verbose = verbose
        self.violations = {}  # violation (list indices as [*]) -> how many times
        self.total_violations = 0
        self.answers = {}    # operation name -> {status: count}
        self.succeeded = set()
        self.sent_query = {}  # operation name -> query parameter names sent and accepted
        self.checked = 0

    def undocumented(self, name, documented):
        """Whether a response header is documented nowhere: not under the response, not a
        transport header, and (for one every answer carries) not in the description."""
        name = name.lower()
        if name in EVERY_ANSWER_HEADERS:
            return EVERY_ANSWER_HEADERS[name] not in self.spec.doc["info"]["description"]
        return name not in TRANSPORT_HEADERS and name not in documented

    # -- reporting --
    def fail(self, op_name, status, path, message, same_as=None):
        """One violation. The same one again (at another index of a list, or `same_as` says
        so for another value) is counted, not printed again."""
        key = "%s  %s  %s  %s" % (op_name, status if status is not None else "-",
                                  re.sub(r"\[\d+\]", "[*]", path), same_as or message)
        self.total_violations += 1
        if key in self.violations:
            self.violations[key][1] += 1
            return
        self.violations[key] = ["%s  %s  %s  %s" % (
            op_name, status if status is not None else "-", path, message), 1]
        print("VIOLATION %s  %s  %s  %s" % (op_name, status if status is not None else "-",
                                            path, message), flush=True)

    def op(self, method, template):
        key = (method, template)
        if key not in self.spec.operations:
            self.fail("%s %s" % key, None, "-", "the document has no such operation")
            return None
        return self.spec.operations[key]

    # -- one call --
    def call(self, method, template, params=None, query=None, token=None, body=None,
             headers=None, expect=None, code=None, field=None, raw_body=None, note=""):
        """Sends one request to the operation (method, template) and checks the answer against
        the document. `expect`: the status the scenario needs (an int or a tuple of ints);
        `code`/`field`: what its problem must say."""
        op = self.op(method, template)
        path = template
        for name, value in (params or {}).items():
            path = path.replace("{%s}" % name, urllib.parse.quote(str(value), safe=""))
        target = path
        if query:
            target += "?" + urllib.parse.urlencode(query)
            query = dict(query)
        send_headers = {"Host": "%s:%d" % (self.server.host, self.server.port)}
        if token:
            send_headers["Authorization"] = "Bearer " + token
        data = None
        if raw_body is not None:
            data = raw_body
        elif body is not None:
            data = json.dumps(body).encode()
            send_headers["Content-Type"] = "application/json"
        send_headers.update(headers or {})
        answer = self.request(method, target, send_headers, data)
        label = "%s %s" % (method, template)
        if self.verbose:
            print("  %s %s -> %d %s" % (method, target, answer.status, note), flush=True)
        self.answers.setdefault(label, {})
        self.answers[label][answer.status] = self.answers[label].get(answer.status, 0) + 1
        if op is not None:
            self.check(op, answer, query)
        where = "%s (%s)" % (label, note) if note else label
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            if answer.status not in wanted:
                detail = ""
                if answer.media_type and "json" in answer.media_type:
                    try:
                        detail = " %s" % json.dumps(answer.json)[:300]
                    except ValueError:
                        pass
                self.fail(where, answer.status, "-", "expected status %s for %s %s;%s" % (
                    "/".join(map(str, wanted)), method, target, detail))
            elif code is not None or field is not None:
                try:
                    problem = answer.json
                except ValueError:
                    problem = {}
                if code is not None and problem.get("code") != code:
                    self.fail(where, answer.status, "$.code", "expected code %r, got %r" % (
                        code, problem.get("code")))
                if field is not None and problem.get("field") != field:
                    self.fail(where, answer.status, "$.field", "expected field %r, got %r" % (
                        field, problem.get("field")))
        return answer

    def request(self, method, target, headers, data, timeout=120):
        connection = http.client.HTTPConnection(self.server.host, self.server.port,
                                                timeout=timeout)
        try:
            connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                connection.putheader(k, v)
            if data is not None:
                connection.putheader("Content-Length", str(len(data)))
            connection.endheaders(data)
            response = connection.getresponse()
            body = response.read()
            return Answer(response.status, list(response.getheaders()), body)
        finally:
            connection.close()

    # -- the checks of one answer --
    def check(self, op, answer, query):
        self.checked += 1
        status = str(answer.status)
        doc = op.responses.get(status) or op.responses.get(status[0] + "XX") \
            or op.responses.get("default")
        if doc is None:
            detail = ""
            if answer.media_type and "json" in answer.media_type:
                try:
                    detail = ": " + json.dumps(answer.json)[:300]
                except ValueError:
                    pass
            self.fail(op.name, answer.status, "-", "status %s is not documented%s" % (
                status, detail), same_as="status %s is not documented" % status)
            return
        if 200 <= answer.status < 300:
            self.succeeded.add(op.name)
            for name in (query or {}):
                self.sent_query.setdefault(op.name, set()).add(name)
        elif answer.status == 400 and answer.media_type == "application/problem+json":
            try:
                problem = answer.json
            except ValueError:
                problem = {}
            # A documented parameter refused as unknown: the document lists one too many.
            if problem.get("code") == "invalid_query" and \
                    problem.get("field") in op.query - op.cluster_query and \
                    "unknown" in str(problem.get("detail", "")).lower():
                self.fail(op.name, answer.status, "$.field",
                          "the documented query parameter %r was refused as unknown" %
                          problem.get("field"))
            if query:
                for name in query:
                    if name != problem.get("field"):
                        self.sent_query.setdefault(op.name, set()).add(name)
        elif query and answer.status != 401 and answer.status != 403:
            for name in query:
                self.sent_query.setdefault(op.name, set()).add(name)
        # Headers: required ones present, every other one documented.
        documented_headers = {k.lower(): self.spec.resolve(v)
                              for k, v in (doc.get("headers") or {}).items()}
        for name, header in documented_headers.items():
            if header.get("required") and answer.header(name) is None:
                self.fail(op.name, answer.status, "header " + name,
                          "the required response header is missing")
            value = answer.header(name)
            if value is not None and "schema" in header:
                self.check_header_value(op, answer, name, value, header["schema"])
        for name, value in answer.headers:
            if self.undocumented(name, documented_headers):
                self.fail(op.name, answer.status, "header " + name,
                          "undocumented response header (value %r)" % value[:80],
                          same_as="undocumented response header")
        # A record's ETag is its version.
        etag = answer.header("ETag")
        if etag is not None and answer.media_type == "application/json" and \
                200 <= answer.status < 300:
            try:
                version = json.loads(answer.body).get("version")
            except (ValueError, AttributeError):
                version = None
            if version is not None and etag != '"%d"' % version:
                self.fail(op.name, answer.status, "header ETag",
                          "%s is not the record's version %r" % (etag, version))
        # Content.
        content = doc.get("content") or {}
        if not content:
            if answer.body:
                self.fail(op.name, answer.status, "-",
                          "a body (%d bytes, %s) where none is documented" % (
                              len(answer.body), answer.header("Content-Type")))
            return
        media = answer.media_type
        if media is None:
            self.fail(op.name, answer.status, "header Content-Type",
                      "missing; documented: %s" % ", ".join(content))
            return
        documented = {k.split(";")[0].strip().lower(): v for k, v in content.items()}
        if media not in documented:
            self.fail(op.name, answer.status, "header Content-Type",
                      "%r is not documented for this status (documented: %s)" % (
                          answer.header("Content-Type"), ", ".join(content)))
            return
        schema = (documented[media] or {}).get("schema")
        if schema is None:
            return
        if media == "application/json" or media.endswith("+json"):
            try:
                value = json.loads(answer.body)
            except ValueError as e:
                self.fail(op.name, answer.status, "$", "not JSON: %s" % e)
                return
            self.validate(op.name, answer.status, value, schema)
            if media == "application/problem+json" and isinstance(value, dict) and \
                    value.get("status") != answer.status:
                self.fail(op.name, answer.status, "$.status",
                          "the problem says %r, the response %d" % (value.get("status"),
                                                                    answer.status))
        else:
            strict = self.spec.strict(schema)
            if strict.get("type") == "string" and strict.get("format") != "binary":
                try:
                    answer.body.decode("utf-8")
                except UnicodeDecodeError:
                    self.fail(op.name, answer.status, "$", "a text body that is not UTF-8")

    def check_header_value(self, op, answer, name, value, schema):
        strict = self.spec.strict(schema)
        kind = strict.get("type")
        candidate = value
        if kind == "integer" or (isinstance(kind, list) and "integer" in kind):
            if not re.fullmatch(r"-?\d+", value):
                self.fail(op.name, answer.status, "header " + name,
                          "%r is not an integer" % value)
                return
            candidate = int(value)
        for error in jsonschema.Draft7Validator(strict, format_checker=FORMATS) \
                .iter_errors(candidate):
            self.fail(op.name, answer.status, "header " + name, error.message)

    def validate(self, op_name, status, value, schema):
        try:
            validator = self.spec.validator(schema)
        except jsonschema.SchemaError as e:
            self.fail(op_name, status, "-", "the document's schema is invalid: %s" % e.message)
            return
        for error in sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path)):
            # A value of the wrong type, enum, pattern or format: one line for all such values.
            same = None if error.validator in ("additionalProperties", "required") else \
                "%s %s" % (error.validator, "/".join(map(str, error.schema_path)))
            self.fail(op_name, status, json_path(error.absolute_path), error.message[:300],
                      same_as=same)

    # -- an event stream --
    def stream(self, query, token, headers=None, frames=3, timeout=5.0, note=""):
        """Opens /v1/events/stream, reads up to `frames` frames within `timeout` seconds and
        checks the content type and each frame's shape (id, event, data = an Event)."""
        op = self.op("GET", "/v1/events/stream")
        label = "GET /v1/events/stream"
        target = "/v1/events/stream" + ("?" + urllib.parse.urlencode(query) if query else "")
        connection = http.client.HTTPConnection(self.server.host, self.server.port,
                                                timeout=timeout)
        events = []
        try:
            connection.putrequest("GET", target)
            connection.putheader("Authorization", "Bearer " + token)
            connection.putheader("Accept", "text/event-stream")
            for k, v in (headers or {}).items():
                connection.putheader(k, v)
            connection.endheaders()
            response = connection.getresponse()
            self.answers.setdefault(label, {})
            self.answers[label][response.status] = self.answers[label].get(
                response.status, 0) + 1
            if response.status != 200:
                answer = Answer(response.status, list(response.getheaders()), response.read())
                self.check(op, answer, query)
                self.fail(label + (" (%s)" % note if note else ""), response.status, "-",
                          "the stream did not open: %s" % answer.body[:300])
                return events
            answer = Answer(200, list(response.getheaders()), b"")
            # Check the status, headers and content type (not the endless body).
            self.check_stream_head(op, answer, query)
            deadline = time.time() + timeout
            frame = {}
            while len(events) < frames and time.time() < deadline:
                try:
                    line = response.readline()
                except (TimeoutError, OSError):
                    break
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\n")
                if line == "":
                    if frame:
                        self.check_frame(frame)
                        events.append(frame)
                    frame = {}
                elif line.startswith(":"):
                    continue  # a comment (heartbeat)
                else:
                    name, _, value = line.partition(":")
                    frame[name] = value[1:] if value.startswith(" ") else value
        finally:
            connection.close()
        return events

    def check_stream_head(self, op, answer, query):
        self.checked += 1
        doc = op.responses.get("200") or {}
        content = doc.get("content") or {}
        if answer.media_type not in {k.split(";")[0].strip().lower() for k in content}:
            self.fail(op.name, 200, "header Content-Type",
                      "%r is not documented (documented: %s)" % (answer.header("Content-Type"),
                                                                 ", ".join(content)))
        documented_headers = {k.lower() for k in (doc.get("headers") or {})}
        for name, value in answer.headers:
            if self.undocumented(name, documented_headers):
                self.fail(op.name, 200, "header " + name,
                          "undocumented response header (value %r)" % value[:80])
        for name, header in (doc.get("headers") or {}).items():
            if self.spec.resolve(header).get("required") and answer.header(name) is None:
                self.fail(op.name, 200, "header " + name, "the required response header is missing")
        self.succeeded.add(op.name)
        for name in (query or {}):
            self.sent_query.setdefault(op.name, set()).add(name)

    def check_frame(self, frame):
        label = "GET /v1/events/stream"
        unknown = set(frame) - {"id", "event", "data", "retry"}
        if unknown:
            self.fail(label, 200, "frame", "unknown SSE fields %s" % sorted(unknown))
        if frame.get("event") == "error":
            return
        for name in ("id", "event", "data"):
            if name not in frame:
                self.fail(label, 200, "frame", "a frame without %r: %r" % (name, frame))
                return
        try:
            data = json.loads(frame["data"])
        except ValueError as e:
            self.fail(label, 200, "frame.data", "not JSON: %s" % e)
            return
        self.validate(label, 200, data, {"$ref": "#/components/schemas/Event"})
        if frame["id"] != str(data.get("position")):
            self.fail(label, 200, "frame.id", "id %r is not the position %r" % (
                frame["id"], data.get("position")))
        if frame["event"] != data.get("type"):
            self.fail(label, 200, "frame.event", "event %r is not the type %r" % (
                frame["event"], data.get("type")))


# ---- The scenario -------------------------------------------------------------------------

class Roles:
    """The tokens a run uses: the demo tenant's owner (printed at start), one of every other
    role of the demo tenant, another tenant's owner (`other`), a free-plan tenant's owner
    (`free`) and the ops token."""

    def __init__(self, owner, ops):
        self.owner, self.ops = owner, ops
        self.admin = self.manager = self.member = self.auditor = self.service = None
        self.other = self.free = None


def run(c, server, witness_seed, base):
    """The scenario: a small history built with every command, every read, each with its
    main refusals, then the probes every operation gets."""
    t = Roles(server.owner, server.ops)
    issue_tokens(c, t)
    customers(c, t)
    contacts(c, t)
    lists(c, t)
    everything = history_and_audit(c, t)
    events(c, t, everything)
    stream(c, t)
    ledger_and_proofs(c, t, everything, witness_seed)
    admin(c, t, base)
    ops_routes(c, t)
    console(c)
    generic_probes(c, t.owner, t.ops, t.member, base)


def issue_tokens(c, t):
    """A token of every role of the demo tenant, and two more tenants."""
    C = c.call
    for role in ("admin", "manager", "member", "auditor", "service"):
        a = C("POST", "/v1/admin/tokens", token=t.ops, expect=201,
              body={"tenant": "demo", "actor": "demo-" + role, "role": role})
        setattr(t, role, a.json.get("token") if a.status == 201 else None)
    C("POST", "/v1/admin/tenants", token=t.ops, expect=201,
      body={"name": "other", "plan": "standard"})
    C("POST", "/v1/admin/tenants", token=t.ops, expect=201, body={"name": "free", "plan": "free"})
    a = C("POST", "/v1/admin/tokens", token=t.ops, expect=201,
          body={"tenant": "free", "actor": "free-owner", "role": "owner"})
    t.free = a.json.get("token") if a.status == 201 else None
    a = C("POST", "/v1/admin/tokens", token=t.ops, expect=201,
          body={"tenant": "other", "actor": "other-owner", "role": "owner", "expires_in": "1h"},
          headers={"Idempotency-Key": "issue-other-owner"})
    t.other = a.json.get("token") if a.status == 201 else None
    # A replay answers the issued token's hash, without the token.
    C("POST", "/v1/admin/tokens", token=t.ops, expect=201,
      body={"tenant": "other", "actor": "other-owner", "role": "owner", "expires_in": "1h"},
      headers={"Idempotency-Key": "issue-other-owner"}, note="replay")


def customers(c, t):
    """Customer commands and reads, with their refusals."""
    C = c.call
    C("POST", "/v1/customers", token=t.owner, expect=201, note="with X-Request-ID",
      headers={"Idempotency-Key": "create-c1", "X-Request-ID": "conformance-c1"},
      body={"id": "c1", "name": "Acme", "email": "ap@acme.test, ceo@acme.test",
            "bill_format": "full"})
    C("POST", "/v1/customers", token=t.owner, expect=201, note="idempotent replay",
      headers={"Idempotency-Key": "create-c1"},
      body={"id": "c1", "name": "Acme", "email": "ap@acme.test, ceo@acme.test",
            "bill_format": "full"})
    C("POST", "/v1/customers", token=t.owner, expect=422, code="idempotency_key_reused",
      headers={"Idempotency-Key": "create-c1"},
      body={"id": "c1", "name": "Other", "email": "x@acme.test"})
    C("POST", "/v1/customers", token=t.manager, expect=201,
      body={"id": "c2", "name": "Beta", "email": "b@beta.test"})
    C("POST", "/v1/customers", token=t.owner, expect=201,
      body={"id": "c3", "name": "Gamma", "email": "g@gamma.test"})
    C("POST", "/v1/customers", token=t.owner, expect=201, note="an X-Request-ID to replace",
      headers={"X-Request-ID": "not a usable id!"},
      body={"name": "Generated id", "email": "gen@gen.test"})
    C("POST", "/v1/customers", token=t.owner, expect=201, note="a 128-byte Idempotency-Key",
      headers={"Idempotency-Key": "k" * 128},
      body={"id": "c4", "name": "Delta", "email": "d@delta.test"})
    C("DELETE", "/v1/customers/{id}", {"id": "c4"}, token=t.owner, expect=413, code="too_long",
      headers={"Idempotency-Key": "k" * 129}, note="a 129-byte Idempotency-Key")
    C("POST", "/v1/customers", token=t.owner, expect=409, code="customer_exists",
      body={"id": "c1", "name": "Again", "email": "again@acme.test"})
    C("POST", "/v1/customers", token=t.owner, expect=422, code="unknown_field",
      body={"id": "c9", "name": "X", "email": "x@x.test", "colour": "red"})
    C("POST", "/v1/customers", token=t.owner, expect=400, code="malformed_json",
      raw_body=b"{not json", headers={"Content-Type": "application/json"})
    C("POST", "/v1/customers", token=t.owner, expect=400, code="duplicate_key",
      raw_body=b'{"name":"a","name":"b","email":"d@d.test"}',
      headers={"Content-Type": "application/json"})
    C("POST", "/v1/customers", token=t.owner, expect=413,
      raw_body=b'{"name":"' + b"x" * (1024 * 1024 + 10) + b'"}',
      headers={"Content-Type": "application/json"}, note="over 1 MiB")
    C("POST", "/v1/customers", token=t.auditor, expect=403, code="forbidden",
      body={"id": "c9", "name": "X", "email": "x@x.test"})
    C("POST", "/v1/customers", expect=401, code="unauthenticated",
      body={"id": "c9", "name": "X", "email": "x@x.test"})
    C("POST", "/v1/customers", token="clt_not-a-token", expect=401,
      body={"id": "c9", "name": "X", "email": "x@x.test"}, note="unknown token")
    a = C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, expect=200)
    etag_c1 = a.header("ETag")
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.auditor, expect=200)
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.other, expect=404,
      note="another tenant's record")
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, query={"at": "1"}, expect=404,
      note="before it existed")
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.owner,
      query={"as_of": "2999-01-01T00:00:00Z"}, expect=200)
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, query={"at": "x"}, expect=400,
      code="invalid_query", field="at")
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.owner,
      query={"at": "1", "as_of": "2999-01-01T00:00:00Z"}, expect=400, code="invalid_query",
      field="as_of")
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, query={"as_of": "yesterday"},
      expect=(400, 422), field="as_of")
    C("GET", "/v1/customers/{id}", {"id": "c1"}, token=t.service, expect=403)
    C("PATCH", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, expect=200,
      headers={"If-Match": etag_c1 or '"1"'}, body={"name": "Acme Ltd"})
    C("PATCH", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, expect=412,
      code="version_mismatch", headers={"If-Match": '"99"'}, body={"name": "Stale"})
    C("PATCH", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, expect=400,
      code="invalid_header", headers={"If-Match": "nope"}, body={"name": "Bad"})
    C("PATCH", "/v1/customers/{id}", {"id": "c1"}, token=t.owner, expect=422,
      body={"bill_format": "huge"})


def contacts(c, t):
    """Contact commands (direct, shared, links, roles, passwords, erasure) and reads."""
    C = c.call
    C("POST", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=201,
      headers={"X-Request-ID": "conformance-k1"},
      body={"id": "k1", "first_name": "Ann", "last_name": "Lee", "email": "ann@acme.test",
            "phones": [{"type": "work", "number": "+44 20 7946 0958"}],
            "address": {"lines": ["1 High St"], "postcode": "AB1 2CD", "country": "GB"},
            "website": "https://acme.test", "communication": {"email_bill": "short",
                                                              "copy_correspondence":
                                                                  ["statements"]}})
    C("POST", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=201,
      body={"id": "k2", "first_name": "Bob"})
    C("POST", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=201,
      body={"id": "k3", "first_name": "Cid", "email": "cid@acme.test",
            "password": {"generate": True}})
    C("POST", "/v1/customers/{id}/contacts", {"id": "c3"}, token=t.owner, expect=201,
      body={"id": "k4", "first_name": "Dee", "email": "dee@gamma.test"})
    C("POST", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=409,
      code="email_taken", body={"id": "k5", "email": "ann@acme.test"})
    C("POST", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=422,
      body={"id": "k5", "first_name": "E", "address": {"country": "Britain"}})
    C("POST", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.other, expect=404,
      body={"id": "k5", "first_name": "E"}, note="another tenant's customer")
    C("POST", "/v1/contacts", token=t.owner, expect=201,
      body={"id": "s1", "first_name": "Sam", "email": "sam@shared.test"})
    C("POST", "/v1/contacts", token=t.owner, expect=201,
      body={"id": "s2", "first_name": "Sue"})
    C("POST", "/v1/contacts", token=t.free, expect=403, code="plan_upgrade_required",
      body={"id": "s9", "first_name": "Free"}, note="a free plan")
    a = C("GET", "/v1/contacts/{id}", {"id": "s1"}, token=t.owner, expect=200)
    C("POST", "/v1/customers/{id}/shared-contacts", {"id": "c1"}, token=t.owner, expect=200,
      headers={"If-Match": a.header("ETag") or '"1"'}, body={"contact_id": "s1"})
    C("POST", "/v1/customers/{id}/shared-contacts", {"id": "c2"}, token=t.owner, expect=200,
      body={"contact_id": "s1"})
    C("POST", "/v1/customers/{id}/shared-contacts", {"id": "c2"}, token=t.owner, expect=409,
      body={"contact_id": "s1"}, note="already linked")
    C("POST", "/v1/customers/{id}/shared-contacts", {"id": "c1"}, token=t.owner, expect=409,
      body={"contact_id": "k1"}, note="not shared")
    C("POST", "/v1/customers/{id}/shared-contacts", {"id": "c2"}, token=t.owner, expect=200,
      body={"contact_id": "s2"})
    C("PUT", "/v1/customers/{id}/contacts/{contact_id}/roles", {"id": "c1", "contact_id": "s1"},
      token=t.owner, expect=200, body={"roles": ["primary", "billing"]})
    C("PUT", "/v1/customers/{id}/contacts/{contact_id}/roles", {"id": "c1", "contact_id": "k1"},
      token=t.owner, expect=200, body={"roles": ["order"]})
    C("PUT", "/v1/customers/{id}/contacts/{contact_id}/roles", {"id": "c1", "contact_id": "k1"},
      token=t.owner, expect=422, body={"roles": ["boss"]})
    C("PUT", "/v1/customers/{id}/contacts/{contact_id}/roles", {"id": "c1", "contact_id": "s2"},
      token=t.owner, expect=404, body={"roles": ["order"]}, note="no such link")
    C("DELETE", "/v1/customers/{id}/shared-contacts/{contact_id}",
      {"id": "c2", "contact_id": "s2"}, token=t.owner, expect=204)
    C("DELETE", "/v1/customers/{id}/shared-contacts/{contact_id}",
      {"id": "c2", "contact_id": "s2"}, token=t.owner, expect=404, note="already unlinked")
    a = C("GET", "/v1/contacts/{id}", {"id": "k1"}, token=t.owner, expect=200)
    C("PATCH", "/v1/contacts/{id}", {"id": "k1"}, token=t.owner, expect=200,
      headers={"If-Match": a.header("ETag") or '"1"', "Idempotency-Key": "edit-k1"},
      body={"title": "Dr", "department": "Finance", "website": None,
            "communication": {"email_bill": "full", "regarding": ["billing"]}})
    C("PATCH", "/v1/contacts/{id}", {"id": "k1"}, token=t.owner, expect=412,
      headers={"If-Match": a.header("ETag") or '"1"'}, body={"title": "Prof"},
      note="stale If-Match")
    C("PATCH", "/v1/contacts/{id}", {"id": "profile-c1"}, token=t.owner, expect=409,
      code="profile_contact_read_only", body={"title": "Ms"})
    C("PATCH", "/v1/contacts/{id}", {"id": "k1"}, token=t.owner, expect=422,
      body={"email": "not an email"})
    C("GET", "/v1/contacts/{id}", {"id": "profile-c1"}, token=t.owner, expect=200)
    C("GET", "/v1/contacts/{id}", {"id": "k1"}, token=t.owner, query={"at": "1"}, expect=404)
    C("GET", "/v1/contacts/{id}", {"id": "k2"}, token=t.owner,
      query={"as_of": "2999-01-01T00:00:00Z"}, expect=200)
    C("POST", "/v1/contacts/{id}/convert-to-shared", {"id": "k2"}, token=t.owner, expect=200)
    C("POST", "/v1/contacts/{id}/convert-to-shared", {"id": "k2"}, token=t.owner, expect=409,
      note="already shared")
    C("DELETE", "/v1/contacts/{id}", {"id": "k3"}, token=t.owner, expect=204)
    C("POST", "/v1/contacts/{id}/restore", {"id": "k3"}, token=t.owner, expect=200)
    C("POST", "/v1/contacts/{id}/restore", {"id": "k3"}, token=t.owner, expect=409,
      note="not deleted")
    C("DELETE", "/v1/contacts/{id}", {"id": "k3"}, token=t.owner, expect=204,
      headers={"Idempotency-Key": "delete-k3"})
    C("DELETE", "/v1/contacts/{id}", {"id": "k3"}, token=t.owner, expect=204,
      headers={"Idempotency-Key": "delete-k3"}, note="idempotent replay")
    C("POST", "/v1/contacts/{id}/password-reset", {"id": "k1"}, token=t.owner, expect=200,
      body={"generate": True})
    C("POST", "/v1/contacts/{id}/password-reset", {"id": "k1"}, token=t.owner, expect=204,
      body={"password": "Correct-Horse-42"})
    C("POST", "/v1/contacts/{id}/password-reset", {"id": "k1"}, token=t.owner, expect=422,
      body={"password": "short"})
    C("POST", "/v1/contacts/{id}/password-reset", {"id": "k2"}, token=t.owner, expect=409,
      body={"generate": True}, note="no portal")
    C("POST", "/v1/contacts/{id}/erase", {"id": "k4"}, token=t.owner, expect=200,
      body={"reason": "request 17"})
    C("POST", "/v1/contacts/{id}/erase", {"id": "k4"}, token=t.owner, expect=200,
      body={"reason": "request 17"}, note="again")
    C("POST", "/v1/contacts/{id}/erase", {"id": "k4"}, token=t.manager, expect=403,
      body={"reason": "request 17"})
    C("POST", "/v1/contacts/{id}/erase", {"id": "k4"}, token=t.owner, expect=422,
      body={"why": "x"})
    C("PATCH", "/v1/contacts/{id}", {"id": "k4"}, token=t.owner, expect=409,
      code="contact_erased", body={"title": "Ms"})
    C("POST", "/v1/customers/{id}/erase", {"id": "c3"}, token=t.admin, expect=200,
      body={"reason": "request 18"})
    C("GET", "/v1/customers/{id}", {"id": "c3"}, token=t.owner, expect=200, note="erased")
    C("GET", "/v1/contacts/{id}", {"id": "k4"}, token=t.owner, expect=200, note="erased")
    a = C("GET", "/v1/customers/{id}", {"id": "c2"}, token=t.owner, expect=200)
    C("DELETE", "/v1/customers/{id}", {"id": "c2"}, token=t.owner, expect=204,
      headers={"If-Match": a.header("ETag") or '"1"'})
    C("DELETE", "/v1/customers/{id}", {"id": "c2"}, token=t.owner, expect=(404, 409),
      note="already deleted")
    C("GET", "/v1/customers/{id}", {"id": "c2"}, token=t.owner, expect=200, note="deleted")


def lists(c, t):
    """The paged lists and searches, and the recipients."""
    C = c.call
    for status in (None, "active", "inactive", "all"):
        a = C("GET", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=200,
              query={"status": status} if status else None)
    a = C("GET", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=200,
          query={"limit": "1"})
    if a.status == 200 and "next_cursor" in a.json:
        C("GET", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=200,
          query={"limit": "1", "cursor": a.json["next_cursor"]})
    else:
        c.fail("GET /v1/customers/{id}/contacts", a.status, "$.next_cursor",
               "a page of 1 of several contacts has no next_cursor")
    C("GET", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=400,
      code="invalid_query", query={"status": "gone"}, field="status")
    C("GET", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=400,
      code="invalid_query", field="limit", query={"limit": "0"})
    C("GET", "/v1/customers/{id}/contacts", {"id": "c1"}, token=t.owner, expect=400,
      code="invalid_query", field="limit", query={"limit": "1001"})
    C("GET", "/v1/customers/{id}/contacts", {"id": "zz"}, token=t.owner, expect=404)
    a = C("GET", "/v1/customers", token=t.owner, expect=200)
    check_list(c, "GET /v1/customers", a, ["c1", "c2", "c3"])
    a = C("GET", "/v1/customers", token=t.auditor, expect=200, query={"q": "ACME"})
    check_list(c, "GET /v1/customers", a, ["c1"], exact=True, note="q=ACME")
    a = C("GET", "/v1/customers", token=t.owner, expect=200, query={"q": "beta.TEST"})
    check_list(c, "GET /v1/customers", a, ["c2"], exact=True, note="q matches an email")
    a = C("GET", "/v1/customers", token=t.owner, expect=200, query={"limit": "1"})
    if a.status == 200:
        if "next_cursor" not in a.json:
            c.fail("GET /v1/customers", 200, "$.next_cursor",
                   "a page of 1 of several customers has no next_cursor")
        else:
            C("GET", "/v1/customers", token=t.owner, expect=200,
              query={"limit": "1", "cursor": a.json["next_cursor"]})
    C("GET", "/v1/customers", token=t.owner, expect=400, code="invalid_query", field="limit",
      query={"limit": "0"})
    C("GET", "/v1/customers", token=t.member, expect=403)
    C("GET", "/v1/customers", token=t.ops, expect=403, note="no tenant")
    a = C("GET", "/v1/contacts", token=t.owner, expect=200)
    a = C("GET", "/v1/contacts", token=t.owner, expect=200, query={"q": "ANN@"})
    check_list(c, "GET /v1/contacts", a, ["k1"], exact=True, note="q=ANN@")
    a = C("GET", "/v1/contacts", token=t.owner, expect=200, query={"q": "k3", "status": "inactive"})
    check_list(c, "GET /v1/contacts", a, ["k3"], exact=True, note="q=k3&status=inactive")
    a = C("GET", "/v1/contacts", token=t.owner, expect=200, query={"status": "all", "limit": "2"})
    if a.status == 200:
        if "next_cursor" not in a.json:
            c.fail("GET /v1/contacts", 200, "$.next_cursor",
                   "a page of 2 of several contacts has no next_cursor")
        else:
            C("GET", "/v1/contacts", token=t.owner, expect=200,
              query={"status": "all", "limit": "2", "cursor": a.json["next_cursor"]})
    C("GET", "/v1/contacts", token=t.owner, expect=400, query={"status": "gone"},
      code="invalid_query", field="status")
    a = C("GET", "/v1/contacts", token=t.owner, expect=200, query={"q": "profile-"})
    check_list(c, "GET /v1/contacts", a, [], exact=True, note="profile contacts are not listed")
    a = C("GET", "/v1/customers", token=t.other, expect=200)
    check_list(c, "GET /v1/customers", a, [], exact=True, note="another tenant's token")
    a = C("GET", "/v1/contacts", token=t.other, expect=200, query={"status": "all"})
    check_list(c, "GET /v1/contacts", a, [], exact=True, note="another tenant's token")
    C("GET", "/v1/customers", token=t.owner, expect=400, code="invalid_query", field="q",
      query=[("q", "a"), ("q", "b")], note="a parameter given twice")
    C("GET", "/v1/customers", token=t.owner, expect=400, code="invalid_query", field="limit",
      query={"limit": "many"})
    C("GET", "/v1/customers", token=t.owner, expect=400, code="invalid_query", field="cursor",
      query={"cursor": "next"})
    C("GET", "/v1/customers/{id}/recipients", {"id": "c1"}, token=t.owner, expect=200,
      query={"kind": "invoice"})
    C("GET", "/v1/customers/{id}/recipients", {"id": "c1"}, token=t.owner, expect=200,
      query={"kind": "correspondence:statements"})
    C("GET", "/v1/customers/{id}/recipients", {"id": "c1"}, token=t.owner, expect=200,
      query={"kind": "order", "limit": "5"})
    C("GET", "/v1/customers/{id}/recipients", {"id": "c1"}, token=t.owner, expect=200,
      query={"kind": "invoice", "limit": "1", "cursor": "1"})
    C("GET", "/v1/customers/{id}/recipients", {"id": "c1"}, token=t.owner, expect=(400, 422),
      field="kind")
    C("GET", "/v1/customers/{id}/recipients", {"id": "c1"}, token=t.owner, expect=422,
      query={"kind": "pigeon"})


def history_and_audit(c, t):
    """The histories and the audit trail with each filter; returns every entry."""
    C = c.call
    for template, rid in (("/v1/contacts/{id}/history", "k1"),
                          ("/v1/customers/{id}/history", "c1")):
        a = C("GET", template, {"id": rid}, token=t.auditor, expect=200)
        check_entries(c, "GET " + template, a, rid)
        C("GET", template, {"id": rid}, token=t.owner, expect=200, query={"at": "5"})
        C("GET", template, {"id": rid}, token=t.owner, expect=200,
          query={"as_of": "2999-01-01T00:00:00Z"})
        C("GET", template, {"id": rid}, token=t.owner, expect=200, query={"limit": "1"})
        C("GET", template, {"id": rid}, token=t.owner, expect=200,
          query={"limit": "1", "cursor": "1"})
        C("GET", template, {"id": "zz-unknown"}, token=t.owner, expect=404, note="unknown id",
          code=("contact_not_found" if "contacts" in template else "customer_not_found"))
    a = C("GET", "/v1/audit", token=t.auditor, expect=200)
    everything = a.json.get("items", []) if a.status == 200 else []
    while a.status == 200 and "next_cursor" in a.json:
        a = C("GET", "/v1/audit", token=t.auditor, expect=200,
              query={"cursor": a.json["next_cursor"]})
        everything += a.json.get("items", []) if a.status == 200 else []
    C("GET", "/v1/audit", token=t.owner, expect=200, query={"actor": "demo-manager"})
    C("GET", "/v1/audit", token=t.owner, expect=200,
      query={"from": "2000-01-01T00:00:00Z", "to": "2999-01-01T00:00:00Z"})
    for rid, template in (("k1", "/v1/contacts/{id}/history"),
                          ("c1", "/v1/customers/{id}/history")):
        a = C("GET", "/v1/audit", token=t.owner, expect=200, query={"record": rid})
        h = C("GET", template, {"id": rid}, token=t.owner, expect=200, query={"limit": "1000"})
        check_audit_record(c, a, h, rid)
    C("GET", "/v1/audit", token=t.owner, expect=404, query={"record": "zz-never"},
      code="record_not_found")
    a = C("GET", "/v1/audit", token=t.owner, expect=200, query={"field": "title"})
    check_audit_field(c, a, "title")
    a = C("GET", "/v1/audit", token=t.owner, expect=200, query={"field": "address",
                                                               "record": "k1"})
    check_audit_field(c, a, "address")
    a = C("GET", "/v1/audit", token=t.owner, expect=200, query={"limit": "2"})
    if a.status == 200 and "next_cursor" in a.json:
        C("GET", "/v1/audit", token=t.owner, expect=200,
          query={"limit": "2", "cursor": a.json["next_cursor"]})
    elif a.status == 200:
        c.fail("GET /v1/audit", 200, "$.next_cursor", "a page of 2 of many has no next_cursor")
    C("GET", "/v1/audit", token=t.owner, expect=(400, 422), query={"from": "last week"},
      field="from")
    C("GET", "/v1/audit", token=t.owner, expect=400, code="invalid_query", field="limit",
      query={"limit": "0"})
    C("GET", "/v1/audit", token=t.service, expect=403)
    check_audit_csv(c, t.owner, everything)
    return everything


def events(c, t, everything):
    """The event log as JSON and as FlatBuffers."""
    C = c.call
    a = C("GET", "/v1/events", token=t.owner, expect=200)
    check_event_page(c, a, "demo")
    a = C("GET", "/v1/events", token=t.owner, expect=200, query={"from": "1", "limit": "3"})
    check_event_page(c, a, "demo", limit=3)
    if a.status == 200 and a.json.get("events"):
        C("GET", "/v1/events", token=t.owner, expect=200,
          query={"from": str(a.json["next"]), "limit": "3"})
    C("GET", "/v1/events", token=t.ops, expect=200, query={"limit": "1000"})
    a = C("GET", "/v1/events", token=t.owner, expect=200, query={"limit": "1000"})
    # Paging with `next` gives every event of the tenant once: none skipped, none repeated.
    if a.status == 200:
        whole = [e["position"] for e in a.json.get("events", [])]
        paged, at = [], 1
        for _ in range(len(whole) + 2):
            page = C("GET", "/v1/events", token=t.owner, expect=200,
                     query={"from": str(at), "limit": "4"}, note="paging")
            if page.status != 200 or not page.json.get("events"):
                break
            paged += [e["position"] for e in page.json["events"]]
            at = page.json["next"]
        if paged != whole:
            c.fail("GET /v1/events", 200, "$.next", "paging by 4 with next gives positions %r, "
                   "one page of 1000 gives %r" % (paged[:20], whole[:20]))
    hashes = {e["position"]: e.get("hash") for e in a.json.get("events", [])} \
        if a.status == 200 else {}
    created = [e for e in (a.json.get("events", []) if a.status == 200 else [])
               if e.get("stream") == "customer-c1" and e.get("type") == "CustomerCreated"]
    if not created or created[0].get("correlation_id") != "conformance-c1":
        c.fail("GET /v1/events", a.status, "$.events[*].correlation_id",
               "X-Request-ID: conformance-c1 of c1's creation is not its event's correlation_id "
               "(%r)" % [e.get("correlation_id") for e in created])
    for i, entry in enumerate(everything):
        if "event_hash" in entry and entry["event_hash"] != hashes.get(entry.get("position")):
            c.fail("GET /v1/audit", 200, "$.items[%d].event_hash" % i,
                   "not the hash of the event at position %r" % entry.get("position"))
        if entry.get("stream") == "customer-c1" and entry.get("operation") == \
                "CustomerCreated" and entry.get("correlation_id", "conformance-c1") != \
                "conformance-c1":
            c.fail("GET /v1/audit", 200, "$.items[%d].correlation_id" % i,
                   "%r, not the X-Request-ID conformance-c1" % entry.get("correlation_id"))
    C("GET", "/v1/events", token=t.owner, expect=400, code="invalid_query", field="from",
      query={"from": "0"})
    C("GET", "/v1/events", token=t.owner, expect=400, code="invalid_query", field="limit",
      query={"limit": "1001"})
    C("GET", "/v1/events", token=t.owner, expect=400, code="invalid_query", field="limit",
      query={"limit": "0"})
    C("GET", "/v1/events", token=t.manager, expect=403)
    a = C("GET", "/v1/events", token=t.service, expect=200, query={"from": "1", "limit": "5"},
          headers={"Accept": "application/x-flatbuffers"})
    check_flatbuffers(c, a)


def stream(c, t):
    """The event stream with each filter, and its refusals."""
    C = c.call
    frames = c.stream({"from": "1"}, t.owner, frames=3)
    if len(frames) < 3:
        c.fail("GET /v1/events/stream", 200, "-", "%d frames within 5 s from position 1" %
               len(frames))
    c.stream({"from": "1", "types": "ContactCreated,ContactEdited", "customer": "c1"},
             t.service, frames=2)
    c.stream({"stream": "contact-k1", "from": "1"}, t.auditor, frames=1)
    c.stream(None, t.ops, headers={"Last-Event-ID": "3"}, frames=2)
    C("GET", "/v1/events/stream", token=t.owner, query={"types": "Nope"}, expect=(400, 422),
      field="types")
    C("GET", "/v1/events/stream", token=t.owner, headers={"Last-Event-ID": "x"}, expect=400,
      code="invalid_header")
    C("GET", "/v1/events/stream", token=t.owner, expect=400, code="invalid_header",
      headers={"Last-Event-ID": "18446744073709551615"}, note="no position after it")
    C("GET", "/v1/events/stream", token=t.owner, query={"from": "x"}, expect=400,
      code="invalid_query", field="from")
    C("GET", "/v1/events/stream", token=t.manager, expect=403)


def ledger_and_proofs(c, t, everything, witness_seed):
    """Digest, verification, signed heads, proofs, a cosignature and evidence."""
    C = c.call
    a = C("GET", "/v1/ledger/digest", token=t.auditor, expect=200)
    C("GET", "/v1/ledger/verify", token=t.auditor, expect=200)
    C("GET", "/v1/ledger/verify", token=t.ops, expect=200)
    a = C("GET", "/v1/ledger/head", token=t.service, expect=200)
    head = a.json if a.status == 200 else None
    C("GET", "/v1/ledger/public-key", token=t.service, expect=200)
    own = [e["position"] for e in everything] or [3]
    C("GET", "/v1/ledger/proofs/inclusion", token=t.owner, expect=200,
      query={"position": str(own[0])})
    if head:
        C("GET", "/v1/ledger/proofs/inclusion", token=t.owner, expect=200,
          query={"position": str(own[0]), "tree_size": str(head["tree_size"])})
    C("GET", "/v1/ledger/proofs/inclusion", token=t.owner, expect=(400, 422), field="position")
    C("GET", "/v1/ledger/proofs/inclusion", token=t.owner, expect=404,
      query={"position": "999999"})
    C("GET", "/v1/ledger/proofs/consistency", token=t.owner, expect=200, query={"from": "2"})
    if head:
        C("GET", "/v1/ledger/proofs/consistency", token=t.owner, expect=200,
          query={"from": "2", "to": str(head["tree_size"])})
    C("GET", "/v1/ledger/proofs/consistency", token=t.owner, expect=(400, 422), field="from")
    C("GET", "/v1/ledger/proofs/consistency", token=t.owner, expect=(400, 404, 422),
      query={"from": "5", "to": "2"})
    if head:
        signature = ed25519_sign(witness_seed, head_message(head))
        witness_id = hashlib.sha256(ed25519_public_key(witness_seed)).hexdigest()[:16]
        C("POST", "/v1/ledger/cosignatures", token=t.service, expect=204,
          body={"head": {k: head[k] for k in ("tree_size", "root_hash", "timestamp_us",
                                              "key_id", "signature")},
                "key_id": witness_id, "signature": signature.hex()})
        C("POST", "/v1/ledger/cosignatures", token=t.service, expect=(403, 422),
          body={"head": {k: head[k] for k in ("tree_size", "root_hash", "timestamp_us",
                                              "key_id", "signature")},
                "key_id": "0000000000000000", "signature": signature.hex()},
          note="unknown witness")
        a = C("GET", "/v1/ledger/head", token=t.service, expect=200, note="with its cosignature")
    C("POST", "/v1/ledger/cosignatures", token=t.service, expect=(400, 422), body={"x": 1})
    C("GET", "/v1/contacts/{id}/evidence", {"id": "k1"}, token=t.auditor, expect=200)
    C("GET", "/v1/customers/{id}/evidence", {"id": "c1"}, token=t.auditor, expect=200)
    C("GET", "/v1/contacts/{id}/evidence", {"id": "k1"}, token=t.service, expect=403)


def admin(c, t, base):
    """Tenants, tokens, projections, backups and statistics."""
    C = c.call
    a = C("GET", "/v1/admin/tenants", token=t.ops, expect=200)
    if a.status == 200:
        names = [t.get("name") for t in a.json.get("items", [])]
        if "demo" not in names or "other" not in names:
            c.fail("GET /v1/admin/tenants", 200, "$.items", "demo and other not listed: %r" %
                   names)
    C("POST", "/v1/admin/tenants", token=t.ops, expect=201,
      body={"name": "third", "required_fields": ["last_name"]})
    C("POST", "/v1/admin/tenants", token=t.ops, expect=409, body={"name": "third"})
    C("POST", "/v1/admin/tenants", token=t.ops, expect=422, body={"name": "x", "plan": "gold"})
    C("POST", "/v1/admin/tenants", token=t.owner, expect=403, body={"name": "fourth"})
    a = C("GET", "/v1/admin/tokens", token=t.ops, expect=200)
    C("GET", "/v1/admin/tokens", token=t.ops, expect=200, query={"tenant": "demo"})
    C("GET", "/v1/admin/tokens", token=t.ops, expect=200, query={"tenant": ""})
    a = C("POST", "/v1/admin/tokens", token=t.ops, expect=201,
          body={"tenant": "demo", "actor": "short-lived", "role": "auditor", "expires_in": "90s"})
    if a.status == 201:
        C("DELETE", "/v1/admin/tokens/{token_hash}", {"token_hash": a.json["token_hash"]},
          token=t.ops, expect=204)
        C("DELETE", "/v1/admin/tokens/{token_hash}", {"token_hash": a.json["token_hash"]},
          token=t.ops, expect=404, note="already revoked")
        C("GET", "/v1/customers/{id}", {"id": "c1"}, token=a.json.get("token"), expect=401,
          note="revoked token")
    C("POST", "/v1/admin/tokens", token=t.ops, expect=404,
      body={"tenant": "nowhere", "actor": "x", "role": "owner"})
    C("POST", "/v1/admin/tokens", token=t.ops, expect=422,
      body={"tenant": "demo", "actor": "x", "role": "king"})
    a = C("GET", "/v1/admin/projections", token=t.ops, expect=200)
    names = [p["name"] for p in a.json.get("items", [])] if a.status == 200 else []
    if names:
        C("POST", "/v1/admin/projections/{name}/rebuild", {"name": names[0]}, token=t.ops,
          expect=200)
    C("POST", "/v1/admin/projections/{name}/rebuild", {"name": "nope"}, token=t.ops, expect=404)
    backups = os.path.join(base, "backups")
    C("POST", "/v1/admin/backups", token=t.ops, expect=201, body={"dir": backups})
    C("POST", "/v1/admin/backups", token=t.ops, expect=201, body={"dir": backups},
      note="incremental")
    C("POST", "/v1/admin/backups", token=t.ops, expect=(400, 422), body={})
    C("POST", "/v1/admin/backups", token=t.ops, expect=503, code="backup_failed",
      body={"dir": "/proc/no-backups-here"}, note="an unwritable directory")
    C("GET", "/v1/admin/backups", token=t.ops, expect=404, code="backup_not_found",
      query={"dir": os.path.join(base, "no-backups-here")})
    a = C("GET", "/v1/admin/backups", token=t.ops, expect=200, query={"dir": backups})
    C("GET", "/v1/admin/backups", token=t.ops, expect=(400, 422), field="dir")
    ids = [b.get("id") for b in a.json.get("items", [])] if a.status == 200 else []
    if a.status == 200 and len(ids) < 2:
        c.fail("GET /v1/admin/backups", 200, "$.items", "2 backups made, %d listed" % len(ids))
    if ids:
        a = C("POST", "/v1/admin/backups/{id}/verify", {"id": ids[-1]}, token=t.ops, expect=200,
              body={"dir": backups})
        if a.status == 200 and a.json.get("ok") is not True:
            c.fail("POST /v1/admin/backups/{id}/verify", 200, "$.ok",
                   "a fresh backup does not verify: %r" % a.json)
    C("POST", "/v1/admin/backups/{id}/verify", {"id": 9999}, token=t.ops, expect=404,
      body={"dir": backups})
    a = C("GET", "/v1/admin/stats", token=t.ops, expect=200)
    C("GET", "/v1/admin/stats", token=t.owner, expect=403)


def ops_routes(c, t):
    """Health, readiness and metrics."""
    C = c.call
    C("GET", "/healthz", expect=200)
    C("GET", "/readyz", expect=200)
    a = C("GET", "/metrics", token=t.ops, expect=200)
    if a.status == 200 and b"cledger_commits_total" not in a.body:
        c.fail("GET /metrics", 200, "-", "no cledger_commits_total in the exposition")
    C("GET", "/metrics", token=t.owner, expect=403)
    C("GET", "/metrics", expect=401)


def console(c):
    """The console's page, the files it names, and an unknown file."""
    C = c.call
    a = C("GET", "/console", expect=200)
    if a.status == 200:
        for name in sorted(set(re.findall(rb'(?:src|href)="(?:/console/|\./)?([A-Za-z0-9_.-]+'
                                          rb'\.(?:js|css|svg|png))"', a.body))):
            C("GET", "/console/{file}", {"file": name.decode()}, expect=200)
    C("GET", "/console/{file}", {"file": "index.html"}, expect=200)
    C("GET", "/console/{file}", {"file": "no-such-file.js"}, expect=404, code="not_found")


def check_list(c, label, answer, wanted, exact=False, note=""):
    if answer.status != 200:
        return
    ids = [item.get("id") for item in answer.json.get("items", [])]
    if ids != sorted(ids):
        c.fail(label, 200, "$.items", "not in id order: %r" % ids)
    if exact and sorted(ids) != sorted(wanted):
        c.fail(label + " (" + note + ")", 200, "$.items", "ids %r, expected %r" % (ids, wanted))
    elif not exact and not set(wanted) <= set(ids):
        c.fail(label, 200, "$.items", "ids %r, expected to include %r" % (ids, wanted))


def check_entries(c, label, answer, rid):
    if answer.status != 200:
        return
    items = answer.json.get("items", [])
    if not items:
        c.fail(label, 200, "$.items", "no history for %s" % rid)


def check_audit_record(c, answer, history, rid):
    """?record= keeps the entries of the record's own history."""
    if answer.status != 200:
        return
    items = answer.json.get("items", [])
    if not items:
        c.fail("GET /v1/audit", 200, "$.items", "record=%s: no entries" % rid)
    if history.status == 200:
        got = [e.get("position") for e in items]
        wanted = [e.get("position") for e in history.json.get("items", [])]
        if got != wanted:
            c.fail("GET /v1/audit", 200, "$.items[*].position",
                   "record=%s: positions %r, its history has %r" % (rid, got, wanted))
        return
    strays = sorted({item.get("stream", "") for item in items} -
                    {"contact-" + rid, "customer-" + rid})
    if strays:
        c.fail("GET /v1/audit", 200, "$.items[*].stream",
               "record=%s: entries of other records too: %s" % (rid, ", ".join(strays[:5])))


def check_audit_field(c, answer, field):
    if answer.status != 200:
        return
    items = answer.json.get("items", [])
    if not items:
        c.fail("GET /v1/audit", 200, "$.items", "field=%s: no entries" % field)
    def covered(name):
        name = str(name)
        return name == field or name.startswith(field + ".") or name.startswith(field + "[")
    others = [sorted(map(str, {ch.get("field") for ch in item.get("changes", [])}))
              for item in items]
    others = [fields for fields in others if not fields or not all(map(covered, fields))]
    if others:
        c.fail("GET /v1/audit", 200, "$.items[*].changes",
               "field=%s: %d of %d entries hold changes of other fields, e.g. %r" % (
                   field, len(others), len(items), others[0]))


CSV_HEADER = ["position", "recorded_at", "tenant", "actor", "role", "record", "operation",
              "field", "before", "after", "event_hash", "correlation_id"]


def check_audit_csv(c, token, entries):
    """The whole trail as CSV and as JSON lines: one row per field change of the JSON
    entries (`entries`: every page), the same rows in both, each JSON line an AuditRow."""
    label = "GET /v1/audit"
    expected_rows = sum(max(1, len(e.get("changes", []))) for e in entries)
    a = c.call("GET", "/v1/audit", token=token, headers={"Accept": "text/csv"}, expect=200,
               query={"limit": "1"}, note="Accept: text/csv (limit ignored)")
    csv_rows = None
    if a.status == 200 and a.media_type != "text/csv":
        c.fail(label, 200, "header Content-Type", "Accept: text/csv answered %r" %
               a.header("Content-Type"))
    elif a.status == 200:
        text = a.body.decode("utf-8")
        if text and not text.endswith("\r\n"):
            c.fail(label, 200, "csv", "lines do not end in CRLF (RFC 4180)")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or rows[0] != CSV_HEADER:
            c.fail(label, 200, "csv[0]", "header row %r, expected %r" % (rows[:1], CSV_HEADER))
        else:
            csv_rows = rows[1:]
            for i, row in enumerate(csv_rows, 1):
                if len(row) != len(CSV_HEADER):
                    c.fail(label, 200, "csv[%d]" % i, "%d columns, expected %d" % (
                        len(row), len(CSV_HEADER)))
                    continue
                if not re.fullmatch(r"[0-9a-f]{64}", row[10]):
                    c.fail(label, 200, "csv[%d].event_hash" % i,
                           "%r is not 64 lowercase hex" % row[10])
                if not _date_time(row[1]):
                    c.fail(label, 200, "csv[%d].recorded_at" % i, "%r is not RFC 3339" % row[1])
                for j, cell in enumerate(row):
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        c.fail(label, 200, "csv[%d].%s" % (i, CSV_HEADER[j]),
                               "%r starts like a spreadsheet formula" % cell[:40])
            if len(csv_rows) != expected_rows:
                c.fail(label, 200, "csv", "%d rows; the JSON trail has %d entries, %d rows "
                       "(one per field change)" % (len(csv_rows), len(entries), expected_rows))
    a = c.call("GET", "/v1/audit", token=token, headers={"Accept": "application/x-ndjson"},
               expect=200, note="Accept: application/x-ndjson")
    if a.status == 200 and a.media_type == "application/x-ndjson":
        lines = a.body.decode("utf-8").splitlines()
        values = []
        for i, line in enumerate(lines):
            try:
                value = json.loads(line)
            except ValueError as e:
                c.fail(label, 200, "line %d" % (i + 1), "not JSON: %s" % e)
                continue
            values.append(value)
            c.validate(label, 200, value, {"$ref": "#/components/schemas/AuditRow"})
        if len(values) != expected_rows:
            c.fail(label, 200, "ndjson", "%d lines for %d field changes" % (len(values),
                                                                          expected_rows))
        if csv_rows is not None and len(csv_rows) == len(values):
            for i, (row, value) in enumerate(zip(csv_rows, values)):
                same = [str(value.get(k)) for k in CSV_HEADER]
                shown = [cell[1:] if cell.startswith("'") and not same[j].startswith("'")
                         else cell for j, cell in enumerate(row)]
                if shown != same:
                    c.fail(label, 200, "csv[%d]" % (i + 1),
                           "differs from JSON line %d: %r vs %r" % (i + 1, row, same))
                    break
    a = c.call("GET", "/v1/audit", token=token, headers={"Accept": "text/csv"}, expect=200,
               query={"field": "title"}, note="Accept: text/csv, field=title")
    if a.status == 200 and a.media_type == "text/csv":
        rows = list(csv.reader(io.StringIO(a.body.decode("utf-8"), newline="")))
        for i, row in enumerate(rows[1:], 1):
            if len(row) == len(CSV_HEADER) and row[7] != "title":
                c.fail(label, 200, "csv[%d].field" % i, "field=title: a row of %r" % row[7])
        if len(rows) < 2:
            c.fail(label, 200, "csv", "field=title: no rows (k1's title was edited)")


def check_event_page(c, answer, tenant, limit=None):
    label = "GET /v1/events"
    if answer.status != 200:
        return
    events = answer.json.get("events", [])
    for i, e in enumerate(events):
        if e.get("tenant") != tenant:
            c.fail(label, 200, "$.events[%d].tenant" % i, "another tenant's event: %r" %
                   e.get("tenant"))
    if limit is not None and len(events) != limit:
        c.fail(label, 200, "$.events", "limit=%d answered %d events (the tenant has more)" %
               (limit, len(events)))
    if events and not answer.json.get("next", 0) > events[-1]["position"]:
        c.fail(label, 200, "$.next", "next %r after position %r" % (answer.json.get("next"),
                                                                   events[-1]["position"]))


def check_flatbuffers(c, answer):
    label = "GET /v1/events"
    if answer.status != 200 or answer.media_type != "application/x-flatbuffers":
        if answer.status == 200:
            c.fail(label, 200, "header Content-Type",
                   "Accept: application/x-flatbuffers answered %r" % answer.header(
                       "Content-Type"))
        return
    body, at, count = answer.body, 0, 0
    while at < len(body):
        if at + 4 > len(body):
            c.fail(label, 200, "body", "a truncated frame length at byte %d" % at)
            return
        (n,) = struct.unpack_from("<I", body, at)
        frame = body[at + 4:at + 4 + n]
        if len(frame) != n or frame[4:8] != b"CLEV":
            c.fail(label, 200, "body", "frame %d is not a CLEV FlatBuffer" % count)
            return
        at += 4 + n
        count += 1
    if answer.header("X-Next-Position") is None:
        c.fail(label, 200, "header X-Next-Position", "missing on a FlatBuffers answer")


# Bodies the generic probes send: valid for the operation, so that only the probe's point is
# wrong (a fresh id where one would be created).
def probe_body(method, template, n, base):
    bodies = {
        ("POST", "/v1/customers"): {"id": "probe-c%d" % n, "name": "P", "email":
                                    "p%d@probe.test" % n},
        ("PATCH", "/v1/customers/{id}"): {"name": "P"},
        ("POST", "/v1/customers/{id}/contacts"): {"id": "probe-k%d" % n, "first_name": "P"},
        ("POST", "/v1/contacts"): {"id": "probe-s%d" % n, "first_name": "P"},
        ("PATCH", "/v1/contacts/{id}"): {"title": "P"},
        ("POST", "/v1/customers/{id}/shared-contacts"): {"contact_id": "s1"},
        ("PUT", "/v1/customers/{id}/contacts/{contact_id}/roles"): {"roles": ["order"]},
        ("POST", "/v1/contacts/{id}/erase"): {"reason": "probe"},
        ("POST", "/v1/customers/{id}/erase"): {"reason": "probe"},
        ("POST", "/v1/contacts/{id}/password-reset"): {"generate": True},
        ("POST", "/v1/admin/tenants"): {"name": "probe-t%d" % n},
        ("POST", "/v1/admin/tokens"): {"tenant": "demo", "actor": "probe", "role": "auditor",
                                       "expires_in": "60s"},
        ("POST", "/v1/admin/backups"): {"dir": "/nonexistent-dir/probe"},
        ("POST", "/v1/ledger/cosignatures"): {"x": 1},
        ("POST", "/v1/admin/backups/{id}/verify"): {"dir": os.path.join(base, "backups")},
    }
    if (method, template) in bodies:
        return bodies[(method, template)]
    return {} if method in ("POST", "PUT", "PATCH") else None


def existing(template):
    """Path parameters naming records that exist (for reads)."""
    values = {}
    for name in re.findall(r"{(\w+)}", template):
        if name == "id":
            values[name] = ("c1" if template.startswith("/v1/customers") else
                            1 if template.startswith("/v1/admin/backups") else "k1")
        elif name == "contact_id":
            values[name] = "s1"
        elif name == "file":
            values[name] = "index.html"
        elif name == "token_hash":
            values[name] = "0" * 64
        else:
            values[name] = "x"
    return values


def missing(template):
    """Path parameters naming nothing (for writes, and the 404 probes)."""
    values = {}
    for name in re.findall(r"{(\w+)}", template):
        if name == "id":
            values[name] = 987654 if template.startswith("/v1/admin/backups") else "zz-none"
        elif name == "contact_id":
            values[name] = "zz-none-2"
        elif name == "file":
            values[name] = "zz-none.js"
        elif name == "token_hash":
            values[name] = "f" * 64
        else:
            values[name] = "zz-none"
    return values


def required_query(method, template, base):
    """The query parameters an operation cannot do without, with good values."""
    if method != "GET":
        return {}
    return {"/v1/customers/{id}/recipients": {"kind": "invoice"},
            "/v1/ledger/proofs/inclusion": {"position": "1"},
            "/v1/ledger/proofs/consistency": {"from": "1"},
            "/v1/admin/backups": {"dir": os.path.join(base, "backups")}}.get(template, {})


def allowed_token(template, owner, ops):
    """A token whose role may call the operation: ops for the admin routes and metrics, the
    demo tenant's owner for everything else."""
    return ops if template.startswith("/v1/admin") or template == "/metrics" else owner


def generic_probes(c, owner, ops, member, base):
    """For every operation: 401 without a token, 403 with a role that may not, 400 for an
    unknown query parameter, 404 for an unknown id."""
    n = 0
    for (method, template), op in sorted(c.spec.operations.items(), key=lambda kv: kv[0][1]):
        n += 1
        token = allowed_token(template, owner, ops) if op.secured else None
        reads = method == "GET"
        params = existing(template) if reads else missing(template)
        body = probe_body(method, template, n, base)
        needed = required_query(method, template, base)
        if op.secured:
            c.call(method, template, params, body=body, expect=401, code="unauthenticated",
                   note="probe: no token")
            c.call(method, template, params, body=body, token=member, expect=403,
                   code="forbidden", note="probe: member role")
        if template == "/v1/events/stream":
            # An unknown parameter must refuse the stream before it opens.
            if stream_refuses(c, owner):
                c.call(method, template, params, token=owner, query={"zz_unknown": "1"},
                       expect=400, code="invalid_query", field="zz_unknown",
                       note="probe: unknown query parameter")
            continue
        c.call(method, template, params, token=token, body=body,
               query=dict(needed, zz_unknown="1"), expect=400, code="invalid_query",
               field="zz_unknown", note="probe: unknown query parameter")
        if "{" in template:
            c.call(method, template, missing(template), token=token, body=body,
                   query=needed or None, expect=404, note="probe: unknown id")
    # A cluster node's parameters: a single server refuses them like any unknown one.
    for (method, template), op in sorted(c.spec.operations.items(), key=lambda kv: kv[0][1]):
        if template == "/v1/events/stream" or method != "GET":
            continue
        for name in sorted(op.cluster_query):
            c.call(method, template, existing(template),
                   token=allowed_token(template, owner, ops) if op.secured else None,
                   query=dict(required_query(method, template, base), **{name: "0"}),
                   expect=400, code="invalid_query", field=name,
                   note="single server: cluster-only " + name)
    # Each documented query parameter must have been sent and accepted at least once.
    for (method, template), op in sorted(c.spec.operations.items()):
        sent = c.sent_query.get(op.name, set())
        for name in sorted(op.query - op.cluster_query - sent):
            c.fail(op.name, None, "query " + name,
                   "documented query parameter never accepted in this run (not exercised, "
                   "or refused)")


def stream_refuses(c, owner):
    """Whether /v1/events/stream answers an unknown query parameter without opening (it
    must); a server that opens the stream instead is a violation, reported here."""
    connection = http.client.HTTPConnection(c.server.host, c.server.port, timeout=5)
    try:
        connection.request("GET", "/v1/events/stream?zz_unknown=1",
                           headers={"Authorization": "Bearer " + owner})
        response = connection.getresponse()
        if response.status == 200:
            c.answers.setdefault("GET /v1/events/stream", {})
            c.answers["GET /v1/events/stream"][200] = \
                c.answers["GET /v1/events/stream"].get(200, 0) + 1
            c.fail("GET /v1/events/stream (probe: unknown query parameter)", 200, "-",
                   "expected status 400 invalid_query naming zz_unknown; the stream opened")
            return False
        return True
    finally:
        connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cledger", required=True, help="the cledger binary")
    parser.add_argument("--spec", required=True, help="schemas/openapi.yaml")
    parser.add_argument("--verbose", action="store_true", help="print every request")
    args = parser.parse_args()
    if not os.access(args.cledger, os.X_OK):
        print("FAIL: %s is not an executable cledger binary" % args.cledger)
        return 1
    started = time.time()
    spec = Spec(args.spec)
    # Every schema the document names must compile before anything runs.
    for name in spec.doc.get("components", {}).get("schemas", {}):
        try:
            spec.validator({"$ref": "#/components/schemas/" + name})
        except (jsonschema.SchemaError, ValueError, KeyError) as e:
            print("VIOLATION components.schemas.%s  -  -  does not compile: %s" % (name, e))
            return 1
    base = tempfile.mkdtemp(prefix="cledger-conformance-")
    witness_seed = hashlib.sha256(b"conformance witness").digest()
    server = None
    try:
        server = Server(os.path.abspath(args.cledger), base,
                        ["--witness-key", ed25519_public_key(witness_seed).hex()])
        c = Conformance(spec, server, args.verbose)
        try:
            run(c, server, witness_seed, base)
        except Exception:
            print("server log tail:\n" + server.log_tail(), file=sys.stderr)
            raise
        for op in sorted(spec.operations.values(), key=lambda o: (o.template, o.method)):
            if op.name not in c.succeeded:
                c.fail(op.name, None, "-", "never answered a success in this run")
        if server.process.poll() is not None:
            c.fail("cledger serve", None, "-", "the server exited during the run:\n" +
                   server.log_tail())
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)

    print("\n%-58s %s" % ("operation", "answers checked (status x count)"))
    for op in sorted(spec.operations.values(), key=lambda o: (o.template, o.method)):
        seen = c.answers.get(op.name, {})
        print("%-58s %s" % (op.name, " ".join("%dx%d" % (s, n) for s, n in sorted(seen.items()))))
    if c.violations:
        print("\nViolations (operation  status  JSON path  message), each once:")
        for line, count in c.violations.values():
            print("  " + line + ("  (x%d)" % count if count > 1 else ""))
    print("\n%d operations, %d answers checked, %d distinct violations (%d in all), %.1f s" % (
        len(spec.operations), c.checked, len(c.violations), c.total_violations,
        time.time() - started))
    return 1 if c.violations else 0


if __name__ == "__main__":
    sys.exit(main())

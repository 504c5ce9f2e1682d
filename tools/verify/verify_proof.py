#!/usr/bin/env python3
"""Independent verifier for Contact Ledger's signed tree heads, Merkle proofs and evidence.

Written from docs/PROOFS.md alone (RFC 9162 §2.1 hashing, Ed25519 signed heads), so that a
third party can check the ledger without trusting its code. Standard library only, plus
`cryptography` or PyNaCl for Ed25519 when installed; otherwise a small pure-Python Ed25519
verifier (RFC 8032 §5.1.7) is used.

Exit status: 0 and "ok: ..." when every check holds; 1 and "FAILED: ..." when one does not;
2 and "error: ..." when the input cannot be used (unreadable file, bad JSON, missing field).
"""

import argparse
import base64
import hashlib
import json
import struct
import sys

HEAD_MESSAGE_TITLE = "contact-ledger/tree-head/v1"
BUNDLE_FORMAT = "contact-ledger-evidence/v1"
EVENT_FILE_IDENTIFIER = b"CLEV"

# Slot indexes in cledger.fb.Event (schemas/events.fbs): every field counts in declaration
# order, and the union `body` takes two slots (body_type, then body).
EVENT_SLOT_POSITION = 0
EVENT_SLOT_TENANT = 1
EVENT_SLOT_STREAM = 2


class Failed(Exception):
    """A check did not hold: the evidence is wrong (exit 1)."""


class Unusable(Exception):
    """The input cannot be checked at all: missing, malformed or mistyped (exit 2)."""


# --- RFC 9162 §2.1 hashing -------------------------------------------------------------------


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, leaf_index, tree_size, audit_path, root):
    """RFC 9162 §2.1.3.2: does `leaf` (a leaf hash) sit at `leaf_index` of the tree `root`?"""
    if leaf_index >= tree_size:
        return False
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    for p in audit_path:
        if sn == 0:
            return False  # more path than the tree has levels
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # A right-edge node with no sibling at this level: climb to where it has one.
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 §2.1.4.2: is the tree (first, first_hash) a prefix of (second, second_hash)?

    The RFC's algorithm assumes 0 < first < second. Its PROOF for first == second is the
    empty path (the trees must then be the same), and the empty tree is a prefix of every
    tree; both are handled before the algorithm, whose step 1 rejects an empty path.
    """
    if first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if first == 0:
        return False  # docs/PROOFS.md: a consistency proof starts from a tree of at least one leaf
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash] + list(path)  # step 2: the old root is itself a node of the path
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_hash and sr == second_hash and sn == 0


# --- Ed25519 ---------------------------------------------------------------------------------

# Pure-Python verification from RFC 8032 §5.1 (its §6 reference code, extended coordinates).
# Slow and not constant-time, which is fine: it only ever handles public data.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _point_add(a, b):
    pa = (a[1] - a[0]) * (b[1] - b[0]) % _P
    pb = (a[1] + a[0]) * (b[1] + b[0]) % _P
    pc = 2 * a[3] * b[3] * _D % _P
    pd = 2 * a[2] * b[2] % _P
    e, f, g, h = pb - pa, pd - pc, pd + pc, pb + pa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _point_mul(scalar, point):
    result = (0, 1, 1, 0)  # the neutral element
    while scalar:
        if scalar & 1:
            result = _point_add(result, point)
        point = _point_add(point, point)
        scalar >>= 1
    return result


def _point_equal(a, b):
    # Projective coordinates: compare x1/z1 with x2/z2 and y1/z1 with y2/z2 without dividing.
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _recover_x(y, sign):
    if y >= _P:
        return None  # a non-canonical encoding (RFC 8032 §5.1.3 step 1)
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None  # not on the curve
    return _P - x if (x & 1) != sign else x


def _point_decode(encoded):
    y = int.from_bytes(encoded, "little")
    x = _recover_x(y & ((1 << 255) - 1), y >> 255)
    if x is None:
        return None
    y &= (1 << 255) - 1
    return (x, y, 1, x * y % _P)


_BASE_Y = 4 * pow(5, _P - 2, _P) % _P
_BASE = _point_decode(_BASE_Y.to_bytes(32, "little"))


def ed25519_verify_pure(public_key, message, signature):
    """RFC 8032 §5.1.7, with the cofactorless check [S]B = R + [k]A' it allows (as OpenSSL
    and libsodium do, so every backend here accepts exactly the same signatures)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _point_decode(public_key)
    r = _point_decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little")
    return _point_equal(_point_mul(s, _BASE), _point_add(r, _point_mul(k % _L, a)))


def _ed25519_verify_cryptography(public_key, message, signature):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def _ed25519_verify_nacl(public_key, message, signature):
    import nacl.exceptions
    import nacl.signing

    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
        return True
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError):
        return False


def _pick_ed25519():
    try:
        import cryptography.hazmat.primitives.asymmetric.ed25519  # noqa: F401

        return "cryptography", _ed25519_verify_cryptography
    except ImportError:
        pass
    try:
        import nacl.signing  # noqa: F401

        return "nacl", _ed25519_verify_nacl
    except ImportError:
        return "pure-python", ed25519_verify_pure


ED25519_BACKEND, ed25519_verify = _pick_ed25519()


# --- Input parsing: every malformed field is Unusable, never a traceback ---------------------


def load_json(path):
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except OSError as e:
        raise Unusable(f"cannot read {path}: {e.strerror}") from None
    except (ValueError, RecursionError) as e:  # RecursionError: absurdly deep nesting
        raise Unusable(f"{path} is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise Unusable(f"{path}: expected a JSON object")
    return doc


def field(obj, key, where, kind):
    if not isinstance(obj, dict):
        raise Unusable(f"{where}: expected a JSON object")
    if key not in obj:
        raise Unusable(f"{where}: missing field '{key}'")
    value = obj[key]
    # bool is an int subclass in Python; a JSON true is never a size or an index.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Unusable(f"{where}: field '{key}' has the wrong type")
    return value


def uint_field(obj, key, where):
    value = field(obj, key, where, int)
    if value < 0:
        raise Unusable(f"{where}: field '{key}' is negative")
    return value


def int64_field(obj, key, where):
    """A time in microseconds: it must fit the signed 64 bits the ledger signs it as."""
    value = uint_field(obj, key, where)
    if value >= 1 << 63:
        raise Unusable(f"{where}: field '{key}' is past the largest signed 64-bit number")
    return value


HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def parse_hex(text, nbytes, what):
    """Hex digits only: bytes.fromhex alone would also accept spaces."""
    if not isinstance(text, str) or not HEX_DIGITS.issuperset(text) or len(text) % 2:
        raise Unusable(f"{what}: not hex")
    if nbytes is not None and len(text) != 2 * nbytes:
        raise Unusable(f"{what}: expected {nbytes} bytes of hex, not {len(text) // 2}")
    return bytes.fromhex(text)


def hex_field(obj, key, where, nbytes):
    return parse_hex(field(obj, key, where, str), nbytes, f"{where}: field '{key}'")


def hash_list(obj, key, where):
    items = field(obj, key, where, list)
    return [parse_hex(h, 32, f"{where}: {key}[{i}]") for i, h in enumerate(items)]


# --- Signed tree heads -----------------------------------------------------------------------


def key_id(public_key):
    return hashlib.sha256(public_key).hexdigest()[:16]


def head_message(tree_size, root_hash, timestamp_us):
    """The exact bytes a tree head's signature covers (PROOFS.md, "Signed tree heads")."""
    text = f"{HEAD_MESSAGE_TITLE}\n{tree_size}\n{root_hash.hex()}\n{timestamp_us}\n"
    return text.encode("ascii")


def parse_head(head, where):
    """Returns (tree_size, root_hash, timestamp_us, key_id, signature) of a head object."""
    return (
        uint_field(head, "tree_size", where),
        hex_field(head, "root_hash", where, 32),
        int64_field(head, "timestamp_us", where),
        hex_field(head, "key_id", where, 8).hex(),
        hex_field(head, "signature", where, 64),
    )


def check_head(head, public_key, where="head"):
    """Raises Failed unless `head` is signed by `public_key`; returns (tree_size, root)."""
    size, root, timestamp_us, head_key_id, signature = parse_head(head, where)
    if head_key_id != key_id(public_key):
        raise Failed(f"{where}: key_id {head_key_id} is not the public key's {key_id(public_key)}")
    if not ed25519_verify(public_key, head_message(size, root, timestamp_us), signature):
        raise Failed(f"{where}: the signature over tree size {size} does not verify")
    return size, root


# --- Minimal FlatBuffers table reader --------------------------------------------------------


class FlatTable:
    """Reads scalar and string fields of a FlatBuffers table by vtable slot, bounds-checked:
    the bytes come from the evidence under test, so a bad offset is a failure, not a crash."""

    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        vtable = pos - self._read("<i", pos)
        self.vtable_size = self._read("<H", vtable)
        self.vtable = vtable
        if self.vtable_size < 4 or self.vtable_size % 2:
            raise ValueError("bad vtable size")
        self._need(vtable, self.vtable_size)

    def _need(self, at, size):
        if at < 0 or at + size > len(self.buf):
            raise ValueError(f"offset {at} is outside the {len(self.buf)} bytes")

    def _read(self, fmt, at):
        self._need(at, struct.calcsize(fmt))
        return struct.unpack_from(fmt, self.buf, at)[0]

    def _field_pos(self, slot):
        entry = 4 + 2 * slot  # after the vtable's own size and the table's size
        if entry >= self.vtable_size:
            return None  # a field newer than the writer: absent
        offset = self._read("<H", self.vtable + entry)
        return self.pos + offset if offset else None

    def uint64(self, slot, default=0):
        at = self._field_pos(slot)
        return default if at is None else self._read("<Q", at)

    def string(self, slot):
        at = self._field_pos(slot)
        if at is None:
            return None
        start = at + self._read("<I", at)
        length = self._read("<I", start)
        self._need(start + 4, length)
        return self.buf[start + 4 : start + 4 + length].decode("utf-8")


def read_event_identity(buf):
    """(position, tenant, stream) of a cledger.fb.Event; raises ValueError on bad bytes."""
    if len(buf) < 8 or buf[4:8] != EVENT_FILE_IDENTIFIER:
        raise ValueError('the file identifier is not "CLEV"')
    root = FlatTable(buf, struct.unpack_from("<I", buf, 0)[0])
    return (
        root.uint64(EVENT_SLOT_POSITION),
        root.string(EVENT_SLOT_TENANT),
        root.string(EVENT_SLOT_STREAM),
    )


# --- Evidence bundles ------------------------------------------------------------------------


def parse_bundle_event(event, where):
    position = uint_field(event, "position", where)
    index = uint_field(event, "leaf_index", where)
    try:
        data = base64.b64decode(field(event, "bytes", where, str), validate=True)
    except ValueError:  # binascii.Error, or characters that are not ASCII
        raise Unusable(f"{where}: field 'bytes' is not base64") from None
    return position, index, data, hash_list(event, "audit_path", where)


def check_event_bytes(data, tenant, stream, position, where):
    try:
        event_position, event_tenant, event_stream = read_event_identity(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise Failed(f"{where}: not a cledger.fb.Event FlatBuffer ({e})") from None
    if event_position != position:
        raise Failed(f"{where}: the event names position {event_position}")
    if event_tenant != tenant:
        raise Failed(f"{where}: the event's tenant is {event_tenant!r}, not {tenant!r}")
    if event_stream != stream:
        raise Failed(f"{where}: the event's stream is {event_stream!r}, not {stream!r}")


def check_bundle(bundle, trusted_key=None):
    """Raises Failed unless every claim of an evidence bundle holds; returns a summary."""
    fmt = field(bundle, "format", "bundle", str)
    if fmt != BUNDLE_FORMAT:
        raise Unusable(f"bundle: format {fmt!r} is not {BUNDLE_FORMAT!r}")
    tenant = field(bundle, "tenant", "bundle", str)
    subject = field(bundle, "subject", "bundle", str)
    if subject not in ("contact", "customer"):
        raise Unusable(f"bundle: subject {subject!r} is neither 'contact' nor 'customer'")
    stream = f"{subject}-{field(bundle, 'id', 'bundle', str)}"
    public_key = hex_field(bundle, "public_key", "bundle", 32)
    events = field(bundle, "events", "bundle", list)
    parsed = [parse_bundle_event(e, f"bundle: events[{i}]") for i, e in enumerate(events)]
    if not parsed:
        raise Failed("bundle: it holds no events, so it proves nothing")
    if trusted_key is not None and trusted_key != public_key:
        raise Failed("bundle: its public_key is not the trusted key given with --public-key")
    size, root = check_head(field(bundle, "head", "bundle", dict), public_key, "bundle: head")
    for i, (position, index, data, path) in enumerate(parsed):
        where = f"bundle: events[{i}] (position {position})"
        if index + 1 != position:
            raise Failed(f"{where}: leaf_index {index} is not position - 1")
        if not verify_inclusion(leaf_hash(data), index, size, path, root):
            raise Failed(f"{where}: its bytes and audit path do not yield the head's root")
        check_event_bytes(data, tenant, stream, position, where)
    return f"{len(parsed)} events of {tenant}/{stream} in the signed tree of size {size}"


# --- Command line ----------------------------------------------------------------------------


def public_key_arg(text):
    return parse_hex(text, 32, "--public-key")


def cmd_head(args):
    key = public_key_arg(args.public_key)
    size, root = check_head(load_json(args.head), key)
    return f"head of tree size {size}, root {root.hex()}, signed by key {key_id(key)}"


def read_leaf(args):
    if args.leaf_hex is not None:
        return parse_hex(args.leaf_hex, None, "--leaf-hex")
    try:
        with open(args.leaf_file, "rb") as f:
            return f.read()
    except OSError as e:
        raise Unusable(f"cannot read {args.leaf_file}: {e.strerror}") from None


def cmd_inclusion(args):
    proof = load_json(args.proof)
    index = uint_field(proof, "leaf_index", "proof")
    proof_size = uint_field(proof, "tree_size", "proof")
    path = hash_list(proof, "audit_path", "proof")
    position = uint_field(proof, "position", "proof") if "position" in proof else index + 1
    leaf = read_leaf(args)
    size, root = check_head(load_json(args.head), public_key_arg(args.public_key))
    if position != index + 1:
        raise Failed(f"proof: position {position} is not leaf_index {index} + 1")
    if proof_size != size:
        raise Failed(f"proof: tree_size {proof_size} is not the head's {size}")
    if not verify_inclusion(leaf_hash(leaf), index, size, path, root):
        raise Failed(f"proof: the leaf at index {index} does not yield the head's root")
    return f"leaf index {index} (position {index + 1}) is in the signed tree of size {size}"


def cmd_consistency(args):
    proof = load_json(args.proof)
    first = uint_field(proof, "from", "proof")
    second = uint_field(proof, "to", "proof")
    path = hash_list(proof, "consistency_path", "proof")
    key = public_key_arg(args.public_key)
    old_size, old_root = check_head(load_json(args.old), key, "old head")
    new_size, new_root = check_head(load_json(args.new), key, "new head")
    if (first, second) != (old_size, new_size):
        raise Failed(
            f"proof: from {first} to {second} is not old head {old_size} to new head {new_size}"
        )
    if not verify_consistency(first, second, old_root, new_root, path):
        raise Failed(f"proof: does not show the tree of size {first} is a prefix of {second}")
    return f"the signed tree of size {first} is a prefix of the signed tree of size {second}"


def cmd_bundle(args):
    key = public_key_arg(args.public_key) if args.public_key is not None else None
    summary = check_bundle(load_json(args.bundle), key)
    if key is None:
        summary += " (public key taken from the bundle itself)"
    return summary


EXAMPLES = {
    "head": "verify_proof.py head head.json --public-key $KEY",
    "inclusion": "verify_proof.py inclusion proof.json --head head.json --public-key $KEY \\\n"
    "      --leaf-file event-7.clev",
    "consistency": "verify_proof.py consistency proof.json --old head-40.json \\\n"
    "      --new head-57.json --public-key $KEY",
    "bundle": "verify_proof.py bundle evidence-k1.json --public-key $KEY",
}
KEY_NOTE = "$KEY: the ledger's public key, 64 hex digits (GET /v1/ledger/public-key)."


def add_command(sub, name, summary, description):
    # Raw formatting keeps each example on its own lines, copy-pasteable.
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"example:\n  {EXAMPLES[name]}\n\n{KEY_NOTE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser():
    examples = "\n".join(f"  {text}" for text in EXAMPLES.values())
    parser = argparse.ArgumentParser(
        prog="verify_proof.py",
        description="Check Contact Ledger signed tree heads, inclusion and consistency proofs\n"
        "and evidence bundles, as docs/PROOFS.md specifies them.\n\n"
        "Exit status: 0 and 'ok: ...' when every check holds; 1 and 'FAILED: ...'\n"
        "when one does not; 2 when the input is unusable (bad JSON, missing field).",
        epilog=f"examples:\n{examples}\n\n{KEY_NOTE}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    key_help = "the ledger's Ed25519 public key, 64 hex digits, from a source you trust"

    head = add_command(
        sub, "head", "check a signed tree head",
        "Check a signed tree head: its key_id is the public key's, and its Ed25519\n"
        "signature verifies over the exact signed message.",
    )
    head.add_argument("head", metavar="HEAD.json", help="GET /v1/ledger/head's answer")
    head.add_argument("--public-key", required=True, metavar="HEX", help=key_help)
    head.set_defaults(run=cmd_head)

    inc = add_command(
        sub, "inclusion", "check that an event is in a signed tree",
        "Check the head, then that the leaf's audit path yields the head's root at\n"
        "the head's tree size (RFC 9162 §2.1.3.2).",
    )
    inc.add_argument("proof", metavar="PROOF.json", help="GET /v1/ledger/proofs/inclusion's answer")
    inc.add_argument("--head", required=True, metavar="HEAD.json", help="the signed tree head")
    inc.add_argument("--public-key", required=True, metavar="HEX", help=key_help)
    leaf = inc.add_mutually_exclusive_group(required=True)
    leaf.add_argument("--leaf-file", metavar="EVENT.bin", help="the event's stored bytes")
    leaf.add_argument("--leaf-hex", metavar="HEX", help="the event's stored bytes in hex")
    inc.set_defaults(run=cmd_inclusion)

    con = add_command(
        sub, "consistency", "check that an older signed tree is a prefix of a newer one",
        "Check both heads' signatures, then the consistency proof between them\n"
        "(RFC 9162 §2.1.4.2).",
    )
    con.add_argument(
        "proof", metavar="PROOF.json", help="GET /v1/ledger/proofs/consistency's answer"
    )
    con.add_argument("--old", required=True, metavar="OLDHEAD.json", help="the older signed head")
    con.add_argument("--new", required=True, metavar="NEWHEAD.json", help="the newer signed head")
    con.add_argument("--public-key", required=True, metavar="HEX", help=key_help)
    con.set_defaults(run=cmd_consistency)

    bun = add_command(
        sub, "bundle", "check an evidence bundle",
        "Check an evidence bundle: the head's signature under the bundle's key, each\n"
        "event's inclusion in the head's tree, and that each event is a CLEV FlatBuffer\n"
        "naming the bundle's tenant and stream and its own position.",
    )
    bun.add_argument("bundle", metavar="BUNDLE.json", help="a contact's or customer's evidence")
    bun.add_argument(
        "--public-key",
        metavar="HEX",
        help=key_help + "; must equal the bundle's (without it the bundle's own key is used)",
    )
    bun.set_defaults(run=cmd_bundle)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        print(f"ok: {args.run(args)}")
        return 0
    except Failed as e:
        print(f"FAILED: {e}")
        return 1
    except Unusable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

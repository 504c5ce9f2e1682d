#!/usr/bin/env python3
"""Tests of tools/verify/verify_proof.py against tests/proofs/vectors.json, hand-built
evidence bundles and its command line. Run from the repository root:

    python3 tests/proofs/test_verify_proof.py
"""

import base64
import hashlib
import importlib.util
import json
import pathlib
import struct
import subprocess
import sys
import tempfile
import unittest

# The modules are loaded by path from the source tree: leave no __pycache__ beside them.
sys.dont_write_bytecode = True

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
VERIFIER = REPO / "tools" / "verify" / "verify_proof.py"


def load_module(name, path):
    # By path: neither file lives in a package, and the test must not depend on sys.path.
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


vp = load_module("verify_proof", VERIFIER)
mv = load_module("make_vectors", HERE / "make_vectors.py")
VECTORS = json.loads((HERE / "vectors.json").read_text(encoding="utf-8"))

try:
    from cryptography.hazmat.primitives.asymmetric import ed25519 as crypto_ed25519
except ImportError:
    crypto_ed25519 = None


def unhex(hashes):
    return [bytes.fromhex(h) for h in hashes]


# --- A pure-Python Ed25519 signer (RFC 8032 §5.1.6), so the bundle tests need no library -----


def _encode_point(point):
    x, y, z, _ = point
    zinv = pow(z, vp._P - 2, vp._P)
    x, y = x * zinv % vp._P, y * zinv % vp._P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _expand(seed):
    """RFC 8032 §5.1.5: the clamped secret scalar and the nonce prefix of a 32-byte seed."""
    h = hashlib.sha512(seed).digest()
    return int.from_bytes(h[:32], "little") & ((1 << 254) - 8) | (1 << 254), h[32:]


def pure_public_key(seed):
    return _encode_point(vp._point_mul(_expand(seed)[0], vp._BASE))


def pure_sign(seed, message):
    a, prefix = _expand(seed)
    public = _encode_point(vp._point_mul(a, vp._BASE))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % vp._L
    big_r = _encode_point(vp._point_mul(r, vp._BASE))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % vp._L
    return big_r + ((r + k * a) % vp._L).to_bytes(32, "little")


SEED = mv.SIGNING_SEED
PUBLIC_KEY = pure_public_key(SEED)


def signed_head(size, root, timestamp_us=1764800000000000):
    message = vp.head_message(size, root, timestamp_us)
    return {
        "tree_size": size,
        "root_hash": root.hex(),
        "timestamp_us": timestamp_us,
        "time": mv.iso_time(timestamp_us),
        "key_id": vp.key_id(PUBLIC_KEY),
        "signature": pure_sign(SEED, message).hex(),
        "cosignatures": [],
    }


# --- A minimal FlatBuffers writer for one table (front to back, offsets patched in) -----------


def _pad(buf, alignment):
    buf.extend(b"\0" * (-len(buf) % alignment))


def build_flatbuffer(identifier, u64_fields, string_fields):
    """A buffer whose root table has the given u64 and string fields, by vtable slot."""
    slots = list(u64_fields) + list(string_fields)
    buf = bytearray(struct.pack("<I", 0) + identifier)
    vtable = len(buf)
    buf.extend(b"\0" * (4 + 2 * (max(slots) + 1)))
    _pad(buf, 8)
    table = len(buf)
    layout = {}  # slot -> offset in the table; u64s first, so they stay 8-byte aligned
    offset = 8  # after the 4-byte vtable offset and 4 bytes of padding
    for slot in u64_fields:
        layout[slot], offset = offset, offset + 8
    for slot in string_fields:
        layout[slot], offset = offset, offset + 4
    buf.extend(b"\0" * offset)
    struct.pack_into("<i", buf, table, table - vtable)
    struct.pack_into("<HH", buf, vtable, 4 + 2 * (max(slots) + 1), offset)
    for slot, at in layout.items():
        struct.pack_into("<H", buf, vtable + 4 + 2 * slot, at)
    for slot, value in u64_fields.items():
        struct.pack_into("<Q", buf, table + layout[slot], value)
    for slot, text in string_fields.items():
        _pad(buf, 4)
        struct.pack_into("<I", buf, table + layout[slot], len(buf) - (table + layout[slot]))
        data = text.encode("utf-8")
        buf.extend(struct.pack("<I", len(data)) + data + b"\0")
    struct.pack_into("<I", buf, 0, table)
    return bytes(buf)


def make_event(position, tenant, stream, identifier=b"CLEV"):
    # Slots of cledger.fb.Event: 0 position, 1 tenant, 2 stream, 4 event_id.
    event_id = f"00000000-0000-4000-8000-{position:012d}"
    return build_flatbuffer(identifier, {0: position}, {1: tenant, 2: stream, 4: event_id})


# Written by flatc 2.0.8 (`flatc -b schemas/events.fbs`) from: {"position": 7, "tenant":
# "acme", "stream": "contact-k1", "stream_version": 2, "event_id": "...0007", "correlation_id":
# "c-1", "recorded_at_us": 1764800000000000, "actor": {"id": "u1", "role": "owner"},
# "schema_version": 1, "prev_hash": 1..32, "hash": 32..1, "body_type": "ContactShared",
# "body": {"contact_id": "k1", "customer_id": "c9"}}. A real builder's layout, with every kind
# of field around the ones the verifier reads.
FLATC_EVENT = bytes.fromhex(
    "2c000000434c45560000000000001e008000640008000c006c0010001400740018001c002000400007006000"
    "1e0000000000000900010000ec000000bc000000b00000008c000000010000000102030405060708090a0b0c"
    "0d0e0f101112131415161718191a1b1c1d1e1f20201f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09"
    "08070605040302012000000007000000000000000200000000000000008019851345060000000000e4ffffff"
    "10000000040000000200000063390000020000006b31000008000c0004000800080000001400000004000000"
    "050000006f776e6572000000020000007531000003000000632d31002400000030303030303030302d303030"
    "302d343030302d383030302d303030303030303030303037000000000a000000636f6e746163742d6b310000"
    "0400000061636d6500000000"
)


# --- Vectors ---------------------------------------------------------------------------------


class VectorTest(unittest.TestCase):
    leaves = unhex(VECTORS["leaves"])
    roots = unhex(VECTORS["roots"])

    @staticmethod
    def inclusion_holds(entry):
        leaf = vp.leaf_hash(bytes.fromhex(entry["leaf"]))
        path, root = unhex(entry["audit_path"]), bytes.fromhex(entry["root"])
        return vp.verify_inclusion(leaf, entry["leaf_index"], entry["tree_size"], path, root)

    @staticmethod
    def consistency_holds(entry):
        old_root, new_root = bytes.fromhex(entry["old_root"]), bytes.fromhex(entry["new_root"])
        path = unhex(entry["path"])
        return vp.verify_consistency(entry["from"], entry["to"], old_root, new_root, path)

    def test_roots_start_from_the_empty_tree(self):
        self.assertEqual(self.roots[0], hashlib.sha256(b"").digest())
        self.assertEqual(self.roots[1], vp.leaf_hash(self.leaves[0]))
        self.assertEqual(len(self.roots), len(self.leaves) + 1)
        self.assertIn(b"", self.leaves)

    def test_good_entries_name_the_listed_leaves_and_roots(self):
        for entry in VECTORS["inclusion"]:
            self.assertEqual(bytes.fromhex(entry["leaf"]), self.leaves[entry["leaf_index"]])
            self.assertEqual(bytes.fromhex(entry["root"]), self.roots[entry["tree_size"]])
        for entry in VECTORS["consistency"]:
            self.assertEqual(bytes.fromhex(entry["old_root"]), self.roots[entry["from"]])
            self.assertEqual(bytes.fromhex(entry["new_root"]), self.roots[entry["to"]])

    def test_vectors_cover_every_small_proof(self):
        inclusion = {(e["leaf_index"], e["tree_size"]) for e in VECTORS["inclusion"]}
        consistency = {(e["from"], e["to"]) for e in VECTORS["consistency"]}
        for n in range(1, 17):
            self.assertTrue(all((i, n) in inclusion for i in range(n)))
            self.assertTrue(all((m, n) in consistency for m in range(1, n + 1)))

    @unittest.skipIf(crypto_ed25519 is None, "make_vectors.py signs with the cryptography package")
    def test_vectors_are_up_to_date(self):
        self.assertEqual(mv.render(mv.build()), (HERE / "vectors.json").read_text(encoding="utf-8"))

    def test_inclusion_vectors(self):
        for entry in VECTORS["inclusion"]:
            with self.subTest(entry=entry):
                self.assertTrue(self.inclusion_holds(entry))
        for entry in VECTORS["bad_inclusion"]:
            with self.subTest(entry=entry):
                self.assertFalse(self.inclusion_holds(entry))

    def test_consistency_vectors(self):
        for entry in VECTORS["consistency"]:
            with self.subTest(entry=entry):
                self.assertTrue(self.consistency_holds(entry))
        for entry in VECTORS["bad_consistency"]:
            with self.subTest(entry=entry):
                self.assertFalse(self.consistency_holds(entry))

    def test_edge_sizes(self):
        roots = self.roots
        # docs/PROOFS.md: a consistency proof starts from at least one leaf.
        self.assertFalse(vp.verify_consistency(0, 5, roots[0], roots[5], []))
        self.assertFalse(vp.verify_consistency(0, 5, roots[0], roots[5], [roots[5]]))
        self.assertFalse(vp.verify_consistency(0, 5, roots[1], roots[5], []))
        # A larger tree is never a prefix of a smaller one, whatever the path.
        path = mv.consistency_path(3, 7)
        self.assertTrue(vp.verify_consistency(3, 7, roots[3], roots[7], path))
        self.assertFalse(vp.verify_consistency(7, 3, roots[7], roots[3], path))
        self.assertFalse(vp.verify_inclusion(vp.leaf_hash(b""), 0, 0, [], roots[0]))


class SignedHeadTest(unittest.TestCase):
    def test_signed_head_vectors(self):
        for vector in VECTORS["signed_heads"]:
            head, key = vector["head"], bytes.fromhex(vector["public_key"])
            with self.subTest(why=vector.get("why", head["tree_size"])):
                rebuilt = vp.head_message(
                    head["tree_size"], bytes.fromhex(head["root_hash"]), head["timestamp_us"]
                )
                self.assertEqual(rebuilt, vector["message"].encode("ascii"))
                if vector["valid"]:
                    self.assertEqual(vp.check_head(head, key)[0], head["tree_size"])
                else:
                    self.assertRaises(vp.Failed, vp.check_head, head, key)

    def test_pure_signer_reproduces_the_vectors(self):
        # Ed25519 is deterministic: the same seed and message give the vector's signature.
        for vector in VECTORS["signed_heads"]:
            if vector["valid"]:
                self.assertEqual(PUBLIC_KEY.hex(), vector["public_key"])
                signature = pure_sign(SEED, vector["message"].encode("ascii"))
                self.assertEqual(signature.hex(), vector["head"]["signature"])

    def test_rfc8032_test_1(self):
        signature = bytes.fromhex(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
            "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        )
        public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        self.assertEqual(PUBLIC_KEY, public)
        self.assertTrue(vp.ed25519_verify_pure(public, b"", signature))
        self.assertTrue(vp.ed25519_verify(public, b"", signature))

    def test_pure_fallback_is_used_without_a_library(self):
        # None in sys.modules makes `import` fail, as on a machine without the packages.
        blocked = ("cryptography", "nacl")
        saved = {name: sys.modules.get(name) for name in blocked}
        try:
            sys.modules.update(dict.fromkeys(blocked))
            bare = load_module("verify_proof_bare", VERIFIER)
        finally:
            for name, module in saved.items():
                if module is None:
                    del sys.modules[name]
                else:
                    sys.modules[name] = module
        self.assertEqual(bare.ED25519_BACKEND, "pure-python")
        for vector in VECTORS["signed_heads"]:
            key = bytes.fromhex(vector["public_key"])
            if vector["valid"]:
                bare.check_head(vector["head"], key)
            else:
                self.assertRaises(bare.Failed, bare.check_head, vector["head"], key)

    @unittest.skipIf(crypto_ed25519 is None, "the cryptography package is not installed")
    def test_pure_fallback_agrees_with_cryptography(self):
        def by_cryptography(public, message, signature):
            try:
                crypto_ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
                return True
            except Exception:
                return False

        for public, message, signature in self.signature_cases():
            with self.subTest(message=message, signature=signature.hex()):
                expected = by_cryptography(public, message, signature)
                self.assertEqual(vp.ed25519_verify_pure(public, message, signature), expected)

    @staticmethod
    def signature_cases():
        """The vectors' signatures, plus forgeries a careless verifier accepts."""
        order = vp._L.to_bytes(32, "little")
        for vector in VECTORS["signed_heads"]:
            public = bytes.fromhex(vector["public_key"])
            message = vector["message"].encode("ascii")
            signature = bytes.fromhex(vector["head"]["signature"])
            yield public, message, signature
            yield public, message + b"x", signature
            # S + L: the same point equation, but a non-canonical S that RFC 8032 rejects.
            s_plus_l = int.from_bytes(signature[32:], "little") + vp._L
            if s_plus_l < 2**256:
                yield public, message, signature[:32] + s_plus_l.to_bytes(32, "little")
            yield public, message, signature[:32] + order
            yield public, message, bytes(64)


# --- FlatBuffers reading ---------------------------------------------------------------------


class FlatBufferTest(unittest.TestCase):
    def test_reads_a_flatc_written_event(self):
        self.assertEqual(vp.read_event_identity(FLATC_EVENT), (7, "acme", "contact-k1"))

    def test_reads_a_hand_built_event(self):
        event = make_event(9, "acme", "contact-k1")
        self.assertEqual(vp.read_event_identity(event), (9, "acme", "contact-k1"))

    def test_rejects_bad_bytes(self):
        wrong_identifier = make_event(1, "a", "b", b"XXXX")
        root_outside = b"\xff\xff\xff\x7fCLEV"
        for bad in (b"", b"\0" * 7, wrong_identifier, FLATC_EVENT[:40], root_outside):
            with self.subTest(bad=bad[:16]):
                self.assertRaises(ValueError, vp.read_event_identity, bad)


# --- Evidence bundles ------------------------------------------------------------------------

# Position 3 is an empty leaf (a position lost with the WAL); 2 and 5 are other streams.
LEDGER = [
    make_event(1, "acme", "contact-k1"),
    make_event(2, "acme", "customer-c1"),
    b"",
    make_event(4, "acme", "contact-k1"),
    make_event(5, "other", "contact-k1"),
    make_event(6, "acme", "contact-k1"),
    make_event(7, "acme", "contact-k2"),
]


def make_bundle(positions=(1, 4, 6), ledger=LEDGER):
    tree = mv.Tree(ledger)
    size = len(ledger)
    events = [
        {
            "position": p,
            "leaf_index": p - 1,
            "bytes": base64.b64encode(ledger[p - 1]).decode("ascii"),
            "audit_path": [h.hex() for h in tree.audit_path(p - 1, size)],
        }
        for p in positions
    ]
    return {
        "format": "contact-ledger-evidence/v1",
        "tenant": "acme",
        "subject": "contact",
        "id": "k1",
        "public_key": PUBLIC_KEY.hex(),
        "head": signed_head(size, tree.root(size)),
        "events": events,
    }


class BundleTest(unittest.TestCase):
    def assert_fails(self, bundle, *words):
        with self.assertRaises(vp.Failed) as caught:
            vp.check_bundle(bundle, PUBLIC_KEY)
        for word in words:
            self.assertIn(word, str(caught.exception))

    def test_valid_bundle(self):
        self.assertIn("3 events of acme/contact-k1", vp.check_bundle(make_bundle(), PUBLIC_KEY))
        with self.assertRaisesRegex(vp.Failed, "no events"):  # proves nothing, as in C++
            vp.check_bundle(make_bundle(positions=()), PUBLIC_KEY)

    def test_changed_event_byte_names_the_position(self):
        bundle = make_bundle()
        data = bytearray(base64.b64decode(bundle["events"][1]["bytes"]))
        data[-3] ^= 0x01
        bundle["events"][1]["bytes"] = base64.b64encode(bytes(data)).decode("ascii")
        self.assert_fails(bundle, "events[1]", "position 4", "root")

    def test_event_of_another_tenant_or_stream(self):
        self.assert_fails(make_bundle(positions=(1, 5)), "position 5", "tenant")
        self.assert_fails(make_bundle(positions=(2,)), "position 2", "stream")
        self.assert_fails(make_bundle(positions=(7,)), "position 7", "stream")

    def test_empty_leaf_is_no_event(self):
        self.assert_fails(make_bundle(positions=(3,)), "position 3", "FlatBuffer")

    def test_customer_subject(self):
        bundle = make_bundle(positions=(2,))
        bundle.update(subject="customer", id="c1")
        self.assertIn("customer-c1", vp.check_bundle(bundle, PUBLIC_KEY))

    def test_event_claiming_another_position(self):
        ledger = list(LEDGER)
        ledger[5] = make_event(4, "acme", "contact-k1")  # a copy of position 4's event
        bundle = make_bundle(positions=(6,), ledger=ledger)
        self.assert_fails(bundle, "position 6", "names position 4")

    def test_leaf_index_must_be_position_minus_one(self):
        bundle = make_bundle()
        bundle["events"][2]["position"] = 5
        self.assert_fails(bundle, "leaf_index 5")

    def test_head_signature_and_key(self):
        bundle = make_bundle()
        bundle["head"]["timestamp_us"] += 1
        self.assert_fails(bundle, "head", "signature")
        other = pure_public_key(bytes(32))
        with self.assertRaises(vp.Failed):
            vp.check_bundle(make_bundle(), other)
        bundle = make_bundle()
        bundle["public_key"] = other.hex()
        with self.assertRaises(vp.Failed):  # the head's key_id is not the bundle key's
            vp.check_bundle(bundle)

    def test_unusable_bundles(self):
        for change in (
            {"format": "contact-ledger-evidence/v2"},
            {"subject": "tenant"},
            {"public_key": "zz"},
            {"events": [{"position": 1}]},
            {"events": [dict(make_bundle()["events"][0], bytes="not base64!")]},
            {"events": [dict(make_bundle()["events"][0], bytes="\u00e9v\u00e9nement")]},
            {"public_key": " " + PUBLIC_KEY.hex()[1:]},
            {"head": dict(make_bundle()["head"], tree_size="6")},
        ):
            with self.subTest(change=change):
                self.assertRaises(vp.Unusable, vp.check_bundle, dict(make_bundle(), **change))


# --- Command line ----------------------------------------------------------------------------


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.key = PUBLIC_KEY.hex()
        self.tree = mv.Tree(LEDGER)

    def write(self, name, content):
        path = pathlib.Path(self.dir.name) / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    def run_cli(self, *args, status):
        done = subprocess.run(
            [sys.executable, str(VERIFIER), *args], capture_output=True, text=True, timeout=60
        )
        self.assertEqual(done.returncode, status, done.stdout + done.stderr)
        self.assertNotIn("Traceback", done.stderr)
        return done.stdout

    def head_file(self, size, name):
        return self.write(name, signed_head(size, self.tree.root(size)))

    def test_head(self):
        head = self.head_file(7, "head.json")
        out = self.run_cli("head", head, "--public-key", self.key, status=0)
        self.assertTrue(out.startswith("ok: "))
        other = pure_public_key(bytes(32)).hex()
        self.assertIn("FAILED: ", self.run_cli("head", head, "--public-key", other, status=1))
        bad = dict(json.loads(pathlib.Path(head).read_text()), tree_size=6)
        self.run_cli("head", self.write("bad.json", bad), "--public-key", self.key, status=1)

    def test_unusable_input(self):
        head = self.head_file(7, "head.json")
        key = ("--public-key", self.key)
        self.run_cli("head", self.write("broken.json", "{not json"), *key, status=2)
        self.run_cli("head", self.write("list.json", "[]"), *key, status=2)
        self.run_cli("head", self.write("short.json", {"tree_size": 1}), *key, status=2)
        self.run_cli("head", str(pathlib.Path(self.dir.name) / "absent.json"), *key, status=2)
        self.run_cli("head", head, "--public-key", "abc", status=2)
        bundle = self.write("b.json", {"format": "contact-ledger-evidence/v1"})
        self.run_cli("bundle", bundle, status=2)

    def inclusion_proof(self, index, size):
        path = [h.hex() for h in self.tree.audit_path(index, size)]
        return {"position": index + 1, "leaf_index": index, "tree_size": size, "audit_path": path}

    def test_inclusion(self):
        head = self.head_file(7, "head.json")
        proof = self.write("proof.json", self.inclusion_proof(3, 7))
        event = self.write("event.clev", LEDGER[3])
        common = ("--head", head, "--public-key", self.key)
        self.run_cli("inclusion", proof, *common, "--leaf-file", event, status=0)
        self.run_cli("inclusion", proof, *common, "--leaf-hex", LEDGER[3].hex(), status=0)
        out = self.run_cli("inclusion", proof, *common, "--leaf-hex", LEDGER[4].hex(), status=1)
        self.assertIn("index 3", out)
        empty = self.write("empty.json", self.inclusion_proof(2, 7))
        self.run_cli("inclusion", empty, *common, "--leaf-hex", "", status=0)
        other_size = self.write("proof6.json", self.inclusion_proof(3, 6))
        out = self.run_cli("inclusion", other_size, *common, "--leaf-file", event, status=1)
        self.assertIn("tree_size 6", out)
        self.run_cli("inclusion", proof, *common, "--leaf-hex", "xyz", status=2)

    def test_consistency(self):
        old, new = self.head_file(3, "old.json"), self.head_file(7, "new.json")
        path = [h.hex() for h in self.tree.consistency_path(3, 7)]
        good = self.write("proof.json", {"from": 3, "to": 7, "consistency_path": path})
        common = ("--old", old, "--new", new, "--public-key", self.key)
        self.assertIn("prefix", self.run_cli("consistency", good, *common, status=0))
        bad = self.write("bad.json", {"from": 3, "to": 7, "consistency_path": path[:-1]})
        self.run_cli("consistency", bad, *common, status=1)
        swapped = ("--old", new, "--new", old, "--public-key", self.key)
        self.run_cli("consistency", good, *swapped, status=1)

    def test_bundle(self):
        bundle = make_bundle()
        good = self.write("bundle.json", bundle)
        self.run_cli("bundle", good, "--public-key", self.key, status=0)
        self.assertIn("taken from the bundle", self.run_cli("bundle", good, status=0))
        other = pure_public_key(bytes(32)).hex()
        self.run_cli("bundle", good, "--public-key", other, status=1)
        data = bytearray(base64.b64decode(bundle["events"][2]["bytes"]))
        data[10] ^= 0x80
        bundle["events"][2]["bytes"] = base64.b64encode(bytes(data)).decode("ascii")
        bad = self.write("bad.json", bundle)
        out = self.run_cli("bundle", bad, "--public-key", self.key, status=1)
        self.assertIn("position 6", out)

    def test_help(self):
        self.assertIn("example:", self.run_cli("bundle", "--help", status=0))
        self.run_cli(status=2)


if __name__ == "__main__":
    unittest.main()

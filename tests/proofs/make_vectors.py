#!/usr/bin/env python3
"""Writes tests/proofs/vectors.json: Merkle tree, proof and signed-head test vectors.

The trees and proofs are built here from the definitions of RFC 9162 (MTH §2.1.1, PATH
§2.1.3.1, PROOF/SUBPROOF §2.1.4.1), by recursion over the leaves, and never with the
iterative verification algorithms, so a verifier checked against these vectors is checked
against an independent construction. The output is deterministic: running this again
writes the same bytes (Ed25519 signatures are deterministic).

    python3 tests/proofs/make_vectors.py            # rewrites tests/proofs/vectors.json
    python3 tests/proofs/make_vectors.py --check    # exit 1 if the file is not up to date

Signing needs the `cryptography` package.
"""

import argparse
import datetime
import hashlib
import json
import pathlib
import sys

OUTPUT = pathlib.Path(__file__).resolve().with_name("vectors.json")

# One leaf more than the largest tree, so that "tree size + 1" is always a size with a root.
LARGEST_SIZE = 257
LEAF_COUNT = LARGEST_SIZE + 1
FULL_SIZES = range(1, 17)  # every (index, size) and every (from, to) pair
SAMPLE_SIZES = list(range(17, 41)) + [64, 100, 257]

# RFC 8032 §7.1 TEST 1: a published key, so anyone can reproduce the signatures.
SIGNING_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
HEAD_TITLE = "contact-ledger/tree-head/v1"
BASE_TIMESTAMP_US = 1764800000000000


def leaf_data(i):
    # Leaves differ in length, and every seventh is empty (as a lost WAL position is).
    return bytes([i % 256]) * (i % 7)


LEAVES = [leaf_data(i) for i in range(LEAF_COUNT)]


# --- RFC 9162 §2.1: the tree, by its recursive definitions -----------------------------------


def largest_power_of_two_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Tree:
    """The RFC 9162 definitions over a list of leaf data; subtree roots are memoised, since
    every proof of every size reuses them."""

    def __init__(self, leaves):
        self.leaves = list(leaves)
        self._roots = {}

    def mth(self, start, end):
        """MTH(D[start:end])."""
        if (start, end) not in self._roots:
            self._roots[start, end] = self._mth(start, end)
        return self._roots[start, end]

    def _mth(self, start, end):
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + self.leaves[start]).digest()
        k = largest_power_of_two_below(n)
        left, right = self.mth(start, start + k), self.mth(start + k, end)
        return hashlib.sha256(b"\x01" + left + right).digest()

    def path(self, m, start, end):
        """PATH(m, D[start:end]): the audit path of leaf start + m."""
        n = end - start
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return self.path(m, start, start + k) + [self.mth(start + k, end)]
        return self.path(m - k, start + k, end) + [self.mth(start, start + k)]

    def subproof(self, m, start, end, whole):
        """SUBPROOF(m, D[start:end], whole)."""
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return self.subproof(m, start, start + k, whole) + [self.mth(start + k, end)]
        return self.subproof(m - k, start + k, end, False) + [self.mth(start, start + k)]

    def root(self, size):
        return self.mth(0, size)

    def audit_path(self, index, size):
        return self.path(index, 0, size)

    def consistency_path(self, first, second):
        """PROOF(first, D[second]); defined for 0 < first <= second."""
        return self.subproof(first, 0, second, True)


TREE = Tree(LEAVES)
audit_path = TREE.audit_path
consistency_path = TREE.consistency_path


# --- Which proofs to list --------------------------------------------------------------------


def inclusion_cases():
    cases = [(i, n) for n in FULL_SIZES for i in range(n)]
    for n in SAMPLE_SIZES:
        picks = {0, 1, n // 2, largest_power_of_two_below(n), n - 2, n - 1}
        cases += [(i, n) for i in sorted(picks) if 0 <= i < n]
    return cases


def consistency_cases():
    cases = [(m, n) for n in FULL_SIZES for m in range(1, n + 1)]
    for n in SAMPLE_SIZES:
        picks = {1, 3, n // 2, largest_power_of_two_below(n), n - 1, n}
        if n > 40:
            picks |= {2**j for j in range(9) if 2**j < n} | {7, 33, n - 2}
        cases += [(m, n) for m in sorted(picks) if 1 <= m <= n]
    return cases


def inclusion_entry(leaf, index, size, path, root, why=None):
    entry = {
        "leaf_index": index,
        "tree_size": size,
        "leaf": leaf.hex(),
        "root": root.hex(),
        "audit_path": hexes(path),
    }
    return dict(entry, why=why) if why else entry


def consistency_entry(first, second, old_root, new_root, path, why=None):
    entry = {
        "from": first,
        "to": second,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "path": hexes(path),
    }
    return dict(entry, why=why) if why else entry


def hexes(hashes):
    return [h.hex() for h in hashes]


# --- Mutations: each must be a claim that does not verify ------------------------------------

EXTRA_HASH = hashlib.sha256(b"not a node of any tree").digest()


def flip_byte(hashes, element, byte):
    changed = bytearray(hashes[element])
    changed[byte] ^= 0x01
    return hashes[:element] + [bytes(changed)] + hashes[element + 1 :]


def pick(seed, options):
    """One option, rotating with `seed`: every kind of mutation is covered many times over the
    vectors without listing every kind for every proof."""
    return options[seed % len(options)]


def path_mutations(hashes, seed):
    """Two (why, {"path": mutated}) pairs: a changed byte, and a change of the path's shape."""
    if not hashes:
        return [("an element added to the empty path", {"path": [EXTRA_HASH]})]
    element, byte = seed % len(hashes), (seed * 7) % 32
    shapes = [
        ("last path element dropped", hashes[:-1]),
        ("an element added at the end", hashes + [EXTRA_HASH]),
        ("first path element dropped", hashes[1:]),
        ("an element added at the start", [EXTRA_HASH] + hashes),
    ]
    if len(hashes) >= 2 and hashes[0] != hashes[1]:
        shapes.append(("path elements 0 and 1 swapped", [hashes[1], hashes[0]] + hashes[2:]))
    changed = (f"byte {byte} of path element {element} changed", flip_byte(hashes, element, byte))
    return [(why, {"path": path}) for why, path in (changed, pick(seed, shapes))]


def resized(size_key, root_key, size):
    """A change of a claim's size together with its root: the true root of that size.
    LEAF_COUNT is one more than the largest size listed, so every "size + 1" has a root."""
    return {size_key: size, root_key: TREE.root(size)}


def bad_inclusion(index, size, seed):
    claim = {
        "leaf": LEAVES[index],
        "index": index,
        "size": size,
        "path": audit_path(index, size),
        "root": TREE.root(size),
    }
    changes = path_mutations(claim["path"], seed)
    # A wrong size either comes with that tree's root or claims this root for another size.
    larger, smaller = size + 1, size - 1
    changes.append(pick(seed, [
        ("tree size one larger, with that tree's root", resized("size", "root", larger)),
        ("tree size one smaller, with that tree's root", resized("size", "root", smaller)),
        ("tree size one larger, root unchanged", {"size": size + 1}),
        ("tree size one smaller, root unchanged", {"size": size - 1}),
    ]))
    changes.append(pick(seed, [
        ("a neighbouring leaf index", {"index": index + 1 if index + 1 < size else index - 1}),
        ("leaf index equal to the tree size", {"index": size}),
        ("leaf index beyond the tree, same low bits", {"index": index + 2 ** len(claim["path"])}),
    ]))
    changes.append(("leaf data with a byte appended", {"leaf": claim["leaf"] + b"\x00"}))
    claims = [(why, dict(claim, **change)) for why, change in changes]
    claims = [(why, c) for why, c in claims if c["index"] >= 0 and inclusion_must_fail(**c)]
    return [inclusion_entry(**c, why=why) for why, c in claims]


def inclusion_must_fail(leaf, index, size, path, root):
    """Whether the claim is false by the definitions alone, without running a verifier:
    - a path whose length is not the depth of leaf `index` in a tree of `size` leaves fails
      whatever its hashes (the §2.1.3.2 walk takes exactly that many steps);
    - the true path yields exactly the true leaf under the true root;
    - against the true root, no other path does (short of a SHA-256 collision).
    Other claims (another path against another size's root) are left out: the walk only sees
    the shape of the tree, and several sizes share a shape."""
    if not index < size <= LEAF_COUNT or len(path) != len(audit_path(index, size)):
        return True
    if path == audit_path(index, size):
        return (leaf, root) != (LEAVES[index], TREE.root(size))
    return root == TREE.root(size)


def bad_consistency(first, second, seed):
    claim = {
        "first": first,
        "second": second,
        "old_root": TREE.root(first),
        "new_root": TREE.root(second),
        "path": consistency_path(first, second),
    }
    changes = path_mutations(claim["path"], seed)
    larger, smaller = second + 1, second - 1
    changes.append(pick(seed, [
        ("'to' one larger, with that tree's root", resized("second", "new_root", larger)),
        ("'to' one smaller, with that tree's root", resized("second", "new_root", smaller)),
        ("'to' one larger, roots unchanged", {"second": second + 1}),
        ("'to' one smaller, roots unchanged", {"second": second - 1}),
    ]))
    larger, smaller = first + 1, first - 1
    changes.append(pick(seed // 4, [
        ("'from' one larger, with that tree's root", resized("first", "old_root", larger)),
        ("'from' one smaller, with that tree's root", resized("first", "old_root", smaller)),
        ("'from' one larger, roots unchanged", {"first": first + 1}),
        ("'from' one smaller, roots unchanged", {"first": first - 1}),
    ]))
    old, new = (flip_byte([claim[k]], 0, seed % 32)[0] for k in ("old_root", "new_root"))
    changes.append(pick(seed, [
        ("old root changed, sizes unchanged", {"old_root": old}),
        ("new root changed, sizes unchanged", {"new_root": new}),
    ]))
    claims = [(why, dict(claim, **change)) for why, change in changes]
    # `from` 0 (the empty tree) is left out: PROOFS.md does not say how it is proven.
    claims = [(why, c) for why, c in claims if c["first"] >= 1 and consistency_must_fail(**c)]
    return [consistency_entry(**c, why=why) for why, c in claims]


def consistency_must_fail(first, second, old_root, new_root, path):
    """As inclusion_must_fail, for a consistency claim."""
    if not first <= second <= LEAF_COUNT or len(path) != len(consistency_path(first, second)):
        return True
    true_roots = (TREE.root(first), TREE.root(second))
    if path == consistency_path(first, second):
        return (old_root, new_root) != true_roots
    return (old_root, new_root) == true_roots


# --- Signed tree heads -----------------------------------------------------------------------


def head_message(size, root_hex, timestamp_us):
    return f"{HEAD_TITLE}\n{size}\n{root_hex}\n{timestamp_us}\n"


def iso_time(timestamp_us):
    seconds, micros = divmod(timestamp_us, 1_000_000)
    when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}Z"


def signed_heads():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(SIGNING_SEED)
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(public).hexdigest()[:16]

    def head(size, timestamp_us):
        root = TREE.root(size).hex()
        message = head_message(size, root, timestamp_us)
        wire = {
            "tree_size": size,
            "root_hash": root,
            "timestamp_us": timestamp_us,
            "time": iso_time(timestamp_us),
            "key_id": key_id,
            "signature": key.sign(message.encode("ascii")).hex(),
            "cosignatures": [],
        }
        return {"head": wire, "public_key": public.hex(), "message": message, "valid": True}

    # The empty tree, a small one, the largest, then a head with its broken copies.
    heads = [head(0, BASE_TIMESTAMP_US), head(7, BASE_TIMESTAMP_US + 1)]
    heads.append(head(LARGEST_SIZE, BASE_TIMESTAMP_US + 123456))
    return heads + bad_heads(head(16, BASE_TIMESTAMP_US + 2))


def bad_heads(good):
    """Mutations of one good head, each of which must fail verification."""
    flipped = bytearray.fromhex(good["head"]["signature"])
    flipped[5] ^= 0x20
    variants = [
        ("byte 5 of the signature changed", {"signature": flipped.hex()}),
        ("tree_size changed after signing", {"tree_size": good["head"]["tree_size"] + 1}),
        ("key_id of another key", {"key_id": "0123456789abcdef"}),
    ]
    out = []
    for why, change in variants:
        head = dict(good["head"], **change)
        # `message` is what a verifier rebuilds from the (changed) head, not what was signed.
        message = head_message(head["tree_size"], head["root_hash"], head["timestamp_us"])
        out.append(dict(good, head=head, message=message, valid=False, why=why))
    return [good] + out


# --- Output ----------------------------------------------------------------------------------


def build():
    incl, cons = inclusion_cases(), consistency_cases()
    return {
        "format": "contact-ledger-proof-vectors/v1",
        "description": "RFC 9162 §2.1 Merkle trees over `leaves`; roots[n] is the root of the "
        "first n leaves. Every proof entry carries the claim it is checked against (`leaf` and "
        "`root`, or `old_root` and `new_root`): `inclusion` and `consistency` entries verify, "
        "`bad_*` entries do not (`why` says what was changed). Generated by "
        "tests/proofs/make_vectors.py.",
        "leaves": [d.hex() for d in LEAVES],
        "roots": [TREE.root(n).hex() for n in range(LEAF_COUNT + 1)],
        "inclusion": [
            inclusion_entry(LEAVES[i], i, n, audit_path(i, n), TREE.root(n)) for i, n in incl
        ],
        "consistency": [
            consistency_entry(m, n, TREE.root(m), TREE.root(n), consistency_path(m, n))
            for m, n in cons
        ],
        # The entry's position seeds which mutations it gets.
        "bad_inclusion": [bad for k, (i, n) in enumerate(incl) for bad in bad_inclusion(i, n, k)],
        "bad_consistency": [
            bad for k, (m, n) in enumerate(cons) for bad in bad_consistency(m, n, k)
        ],
        "signed_heads": signed_heads(),
    }


def render(doc):
    """JSON with one list entry per line: small diffs when the vectors change."""
    lines = ["{"]
    for k, (key, value) in enumerate(doc.items()):
        comma = "," if k + 1 < len(doc) else ""
        if isinstance(value, list):
            items = [json.dumps(v, ensure_ascii=False) for v in value]
            body = ",\n".join("  " + item for item in items)
            lines.append(f" {json.dumps(key)}: [\n{body}\n ]{comma}")
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; fail if the file is not up to date"
    )
    args = parser.parse_args()
    text = render(build())
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run {sys.argv[0]}")
            return 1
        print(f"{OUTPUT} is up to date")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

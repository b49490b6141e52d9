"""Count the primes in one shard's range."""

import argparse
import json
import math
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--parts", required=True)
parser.add_argument("--index", type=int, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

part = json.loads((Path(args.parts) / f"part_{args.index:02d}.json").read_text())
first, last = part["first"], part["last"]
small = [p for p in range(2, math.isqrt(last) + 1) if all(p % q for q in range(2, math.isqrt(p) + 1))]
# A sieve over just this shard's range, crossing out multiples of the small primes.
is_prime = bytearray([1]) * (last - first + 1)
for p in small:
    for multiple in range(max(p * p, -(-first // p) * p), last + 1, p):
        is_prime[multiple - first] = 0
primes = sum(is_prime[n - first] for n in range(max(first, 2), last + 1))
result = {"index": args.index, "first": first, "last": last, "primes": primes}
(Path(args.out) / "result.json").write_text(json.dumps(result))
print(f"shard {args.index}: {primes} primes in {first}..{last}")

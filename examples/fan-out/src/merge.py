"""Add up the shards' prime counts."""

import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--out", required=True)
parser.add_argument("shards", nargs="+")
args = parser.parse_args()

results = sorted(
    (json.loads((Path(s) / "result.json").read_text()) for s in args.shards), key=lambda r: r["index"]
)
totals = {
    "shards": len(results),
    "numbers": f"{results[0]['first']}..{results[-1]['last']}",
    "primes": sum(r["primes"] for r in results),
    "primes_per_shard": [r["primes"] for r in results],
}
(Path(args.out) / "totals.json").write_text(json.dumps(totals, indent=2))
print(f"{totals['primes']} primes in {totals['numbers']} across {len(results)} shards")

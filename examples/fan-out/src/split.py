"""Cut 1..N into equal ranges, one file per shard."""

import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--numbers", type=int, required=True)
parser.add_argument("--shards", type=int, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

size = -(-args.numbers // args.shards)
for index in range(args.shards):
    first, last = index * size + 1, min((index + 1) * size, args.numbers)
    (Path(args.out) / f"part_{index:02d}.json").write_text(json.dumps({"first": first, "last": last}))
print(f"1..{args.numbers} in {args.shards} shards of {size}")

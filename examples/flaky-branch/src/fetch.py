"""Write a batch of records, as a feed might deliver them: every fifth one has lost its id."""

import argparse
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--count", type=int, required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

words = "the quick brown fox jumps over the lazy dog while the cat sleeps".split()
with open(Path(args.out) / "records.jsonl", "w") as f:
    for i in range(args.count):
        record = {"id": i + 1, "text": " ".join(words[(i + k) % len(words)] for k in range(5))}
        if i % 5 == 4:
            del record["id"]
        f.write(json.dumps(record) + "\n")
print(f"fetched {args.count} records")

"""Refuse the batch when any record has no id; this is the step that fails in this example."""

import argparse
import json
import sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--records", required=True)
parser.add_argument("--out", required=True)
args = parser.parse_args()

with open(Path(args.records) / "records.jsonl") as f:
    records = [json.loads(line) for line in f]
print(f"checking {len(records)} records")
missing = [n for n, record in enumerate(records, 1) if "id" not in record]
if missing:
    print(
        f"error: {len(missing)} records have no 'id' (lines {', '.join(map(str, missing))})", file=sys.stderr
    )
    sys.exit(1)
(Path(args.out) / "checked.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

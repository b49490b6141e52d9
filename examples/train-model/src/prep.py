"""Split the houses into train and test rows; scale features by the training rows' mean and spread."""

import argparse
import csv
import json
import statistics
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--test_fraction", type=float, default=0.25)
parser.add_argument("--out", required=True)
args = parser.parse_args()

with open(args.data, newline="") as f:
    rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
target = "price_k"
features = [name for name in rows[0] if name != target]

# Every k-th row is held out, so the split is the same on every run.
every = max(2, round(1 / args.test_fraction))
test = rows[::every]
train = [row for i, row in enumerate(rows) if i % every]

scaling = {
    name: {
        "mean": statistics.fmean(r[name] for r in train),
        "stdev": statistics.stdev(r[name] for r in train),
    }
    for name in features
}

out = Path(args.out)
for part, part_rows in (("train", train), ("test", test)):
    with open(out / f"{part}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[*features, target])
        writer.writeheader()
        writer.writerows(part_rows)
(out / "scaling.json").write_text(json.dumps({"target": target, "features": scaling}, indent=2))
print(f"{len(rows)} houses: {len(train)} for training, {len(test)} held out for testing")
print(f"features: {', '.join(features)}; target: {target}")

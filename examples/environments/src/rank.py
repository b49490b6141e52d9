"""Rank models by one of their scores; write the leaderboard as a Markdown table (with tabulate) and as JSON."""

import argparse
import csv
import json
import sys
from pathlib import Path

from tabulate import tabulate

parser = argparse.ArgumentParser()
parser.add_argument("--scores", required=True)
parser.add_argument("--metric", default="accuracy")
parser.add_argument("--out", required=True)
args = parser.parse_args()

print(f"Python {sys.version.split()[0]} from {sys.prefix}")
with open(args.scores, newline="") as fh:
    rows = list(csv.DictReader(fh))
if args.metric not in rows[0]:
    sys.exit(f"no metric {args.metric!r} in {args.scores} (columns: {', '.join(rows[0])})")
rows.sort(key=lambda row: float(row[args.metric]), reverse=True)
ranked = [{"rank": i, **row} for i, row in enumerate(rows, start=1)]

table = tabulate(ranked, headers="keys", tablefmt="github")
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
(out / "leaderboard.md").write_text(f"# Models by {args.metric}\n\n{table}\n")
(out / "leaderboard.json").write_text(json.dumps({"metric": args.metric, "models": ranked}, indent=2))
print(table)

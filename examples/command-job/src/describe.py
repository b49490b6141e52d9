"""Describe each column of a CSV table: count, mean, min, max; a Markdown report in ./outputs, JSON in --summary."""

import argparse
import csv
import json
import os
import statistics
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--houses", required=True)
parser.add_argument("--target", required=True)
parser.add_argument("--round", type=int, default=2)
parser.add_argument("--summary", required=True)
args = parser.parse_args()

print(f"run {os.environ['AZUREML_RUN_ID']} in experiment {os.environ['AZUREML_ARM_PROJECT_NAME']}")
print(f"reading {os.environ['AZURE_ML_INPUT_houses']}")
with open(args.houses, newline="") as f:
    rows = list(csv.DictReader(f))

columns = {}
for name in rows[0]:
    values = [float(row[name]) for row in rows]
    columns[name] = {
        "count": len(values),
        "mean": round(statistics.fmean(values), args.round),
        "min": min(values),
        "max": max(values),
    }
Path(args.summary, "columns.json").write_text(json.dumps(columns, indent=2))

lines = [
    f"# {os.environ.get('REPORT_TITLE', 'Columns')}",
    "",
    "| column | mean | min | max |",
    "|---|---|---|---|",
]
for name, c in columns.items():
    marker = " (target)" if name == args.target else ""
    lines.append(f"| {name}{marker} | {c['mean']} | {c['min']} | {c['max']} |")
Path("outputs", "report.md").write_text("\n".join(lines) + "\n")  # kept as the job's artifacts
print(f"{len(rows)} rows, {len(columns)} columns; report in ./outputs/report.md")

"""Score the model on the held-out rows: root mean squared error and R², plus each prediction."""

import argparse
import csv
import json
import math
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--model", required=True)
parser.add_argument("--report", required=True)
args = parser.parse_args()

model = json.loads((Path(args.model) / "model.json").read_text())
scaling = model["scaling"]["features"]
with open(Path(args.data) / "test.csv", newline="") as f:
    rows = list(csv.DictReader(f))


def predict(row):
    z = [(float(row[n]) - scaling[n]["mean"]) / scaling[n]["stdev"] for n in model["features"]]
    return sum(w * x for w, x in zip(model["weights"], z, strict=True)) + model["bias"]


actual = [float(r[model["target"]]) for r in rows]
predicted = [predict(r) for r in rows]
mean = sum(actual) / len(actual)
rmse = math.sqrt(sum((p - a) ** 2 for p, a in zip(predicted, actual, strict=True)) / len(actual))
r2 = 1 - sum((p - a) ** 2 for p, a in zip(predicted, actual, strict=True)) / sum(
    (a - mean) ** 2 for a in actual
)

report = Path(args.report)
metrics = {"test_rows": len(rows), "rmse": round(rmse, 3), "r2": round(r2, 4)}
(report / "metrics.json").write_text(json.dumps(metrics, indent=2))
with open(report / "predictions.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["actual", "predicted"])
    writer.writerows([a, round(p, 1)] for a, p in zip(actual, predicted, strict=True))
print(f"{len(rows)} held-out houses: RMSE {rmse:.1f}k, R² {r2:.3f}")

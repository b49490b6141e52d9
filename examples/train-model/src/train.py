"""Fit a linear model of price on the scaled features by batch gradient descent on the mean squared error."""

import argparse
import csv
import json
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--data", required=True)
parser.add_argument("--learning_rate", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
parser.add_argument("--model", required=True)
args = parser.parse_args()

data = Path(args.data)
scaling = json.loads((data / "scaling.json").read_text())
features, target = list(scaling["features"]), scaling["target"]
with open(data / "train.csv", newline="") as f:
    rows = list(csv.DictReader(f))
xs = [
    [(float(r[n]) - scaling["features"][n]["mean"]) / scaling["features"][n]["stdev"] for n in features]
    for r in rows
]
ys = [float(r[target]) for r in rows]

weights, bias = [0.0] * len(features), 0.0
for epoch in range(1, args.epochs + 1):
    errors = [
        sum(w * x for w, x in zip(weights, row, strict=True)) + bias - y
        for row, y in zip(xs, ys, strict=True)
    ]
    mse = sum(e * e for e in errors) / len(errors)
    for j in range(len(weights)):
        weights[j] -= (
            args.learning_rate * 2 * sum(e * row[j] for e, row in zip(errors, xs, strict=True)) / len(xs)
        )
    bias -= args.learning_rate * 2 * sum(errors) / len(errors)
    if epoch == 1 or epoch % max(1, args.epochs // 5) == 0:
        print(f"epoch {epoch:4d}/{args.epochs}  training mse {mse:10.2f}")

model = {"features": features, "target": target, "weights": weights, "bias": bias, "scaling": scaling}
model["learning_rate"], model["epochs"], model["training_mse"] = args.learning_rate, args.epochs, mse
(Path(args.model) / "model.json").write_text(json.dumps(model, indent=2))
terms = "".join(
    f" {'-' if w < 0 else '+'} {abs(w):.2f}*z({n})" for w, n in zip(weights, features, strict=True)
)
print(f"{target} = {bias:.2f}{terms}   (z: the feature scaled to mean 0, spread 1)")

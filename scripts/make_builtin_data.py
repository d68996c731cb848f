"""Generate the built-in data set: 1,000 rows, 41 numeric features and a target in (0, 1).

The original report never published its data; only its shape matters for the published
before-training sums (41 features). This script makes a tabular set of the same shape with
mixed scales and correlated columns, like real business data, from a fixed legacy NumPy seed
(RandomState's stream is frozen across NumPy versions). Run it from the repository root:

    python scripts/make_builtin_data.py

then paste the printed SHA-256 into BUILTIN_SHA256 in src/repromatrix/cell/data.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

ROWS = 1000
FEATURES = 41
OUT = Path(__file__).resolve().parent.parent / "src" / "repromatrix" / "resources" / "report41.csv"


def make(rows: int = ROWS, features: int = FEATURES, seed: int = 20230412) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(rows, 6))
    mixing = rng.normal(size=(6, features))
    X = latent @ mixing + 0.5 * rng.normal(size=(rows, features))
    # Mixed scales and offsets, as in un-normalised business data.
    X = X * rng.uniform(0.1, 20.0, size=features) + rng.uniform(-5.0, 50.0, size=features)
    logits = latent @ rng.normal(size=6) + 0.3 * rng.normal(size=rows)
    y = 1.0 / (1.0 + np.exp(-logits))
    y = np.clip(y, 1e-3, 1 - 1e-3)  # strictly inside (0, 1)
    return X.astype(np.float32), y.astype(np.float32)


def shortest(value: np.float32) -> str:
    """The shortest decimal that reads back as the same float32."""
    return np.format_float_positional(value, unique=True, trim="-")


def main() -> None:
    X, y = make()
    header = [f"f{i:02d}" for i in range(1, FEATURES + 1)] + ["target"]
    lines = [",".join(header)]
    for row, target in zip(X, y):
        lines.append(",".join(shortest(v) for v in row) + "," + shortest(target))
    payload = ("\n".join(lines) + "\n").encode("ascii")
    OUT.write_bytes(payload)
    print(f"wrote {OUT} ({len(payload)} bytes), sha256 {hashlib.sha256(payload).hexdigest()}")


if __name__ == "__main__":
    main()

"""CPU per row of LightGBM's own predictor (Booster.predict, one thread), in process.

Usage: python lightgbm_cost.py MODEL_TXT ROWS_CSV BATCH

Scores ROWS_CSV (feature rows, no header) in batches of BATCH rows, over and over for at least a
second of CPU, and prints the CPU nanoseconds per row: what any server around Booster.predict
pays for the model alone, before its HTTP and JSON (make bench-peers prints it beside ours).
"""

import sys
import time

import lightgbm as lgb
import numpy as np


def main() -> None:
    model_txt, rows_csv, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    booster = lgb.Booster(model_file=model_txt)
    x = np.loadtxt(rows_csv, delimiter=",", ndmin=2)
    chunks = [x[i : i + batch] for i in range(0, len(x) - batch + 1, batch)]
    if not chunks:
        sys.exit(f"fewer than {batch} rows in {rows_csv}")
    booster.predict(chunks[0], num_threads=1)
    rows, start = 0, time.process_time()
    while time.process_time() - start < 1.0:
        for c in chunks:
            booster.predict(c, num_threads=1)
            rows += len(c)
    print(f"{(time.process_time() - start) / rows * 1e9:.0f}")


if __name__ == "__main__":
    main()

"""The function's Open Inference Protocol routes, driven by Triton's own HTTP client.

Usage: python check.py /path/to/fraud-detector

Starts the binary on the built-in model (loopback, a free port), then: server live and ready,
model ready, server and model metadata, infer for 1 and 500 rows (FP32, as KServe clients send),
the same rows as FP64, and a malformed request, which must raise the client's exception with 400.
Exit status 0 only if every check held.
"""

import importlib.metadata
import json
import os
import subprocess
import sys
import time

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

MODEL = "fraud-detector"
INPUTS = 20  # the model's inputs (internal/features.Count): the tensor is [N, INPUTS]


def start(binary):
    env = dict(os.environ, LISTEN_ADDRESS="127.0.0.1:0")
    proc = subprocess.Popen([binary], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("msg") == "listening":
            return proc, rec["address"]
    proc.kill()
    sys.exit("the function did not log its address")


def infer(client, rows, datatype):
    inp = httpclient.InferInput("features", list(rows.shape), datatype)
    inp.set_data_from_numpy(rows, binary_data=False)
    outs = [httpclient.InferRequestedOutput(n, binary_data=False) for n in ("fraud_probability", "is_fraud")]
    res = client.infer(MODEL, [inp], outputs=outs, request_id="check")
    return res.as_numpy("fraud_probability"), res.as_numpy("is_fraud"), res.get_response()


def main():
    proc, addr = start(sys.argv[1])
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    try:
        client = httpclient.InferenceServerClient(url=addr)
        for _ in range(100):
            if client.is_server_ready():
                break
            time.sleep(0.1)
        check(client.is_server_live(), "server live")
        check(client.is_server_ready(), "server ready")
        check(client.is_model_ready(MODEL), "model ready")
        check(client.get_server_metadata().get("name") == MODEL, "server metadata")
        md = client.get_model_metadata(MODEL)
        check(md["inputs"][0]["shape"] == [-1, INPUTS] and md["inputs"][0]["datatype"] == "FP32"
              and [o["name"] for o in md["outputs"]] == ["fraud_probability", "is_fraud"], f"model metadata {md}")

        rng = np.random.default_rng(7)
        rows = np.abs(rng.normal(1.0, 2.0, size=(500, INPUTS))).astype(np.float32)
        rows[:, 0] = rng.uniform(5, 400, size=500)  # TX_AMOUNT
        rows[:, 1] = rng.integers(0, 2, size=500)  # TX_DURING_WEEKEND
        rows[:, 2] = rng.integers(0, 2, size=500)  # TX_DURING_NIGHT
        p500, d500, resp = infer(client, rows, "FP32")
        check(p500.shape == (500,) and d500.shape == (500,), "infer 500 rows: shapes")
        check(bool(np.all((p500 >= 0) & (p500 <= 1))), "infer 500 rows: probabilities in [0, 1]")
        check(resp.get("model_name") == MODEL and resp.get("id") == "check", "infer: model name and request id")
        thr = None
        if np.any(d500) and not np.all(d500):
            thr = (p500[d500].min(), p500[~d500].max())
            check(thr[0] > thr[1], "infer: the decision is a threshold on the probability")
        p1, d1, _ = infer(client, rows[:1], "FP32")
        check(p1.shape == (1,) and p1[0] == p500[0] and d1[0] == d500[0], "infer 1 row equals row 0 of 500")
        p64, _, _ = infer(client, rows.astype(np.float64), "FP64")
        check(bool(np.all(np.abs(p64 - p500) <= 1e-9)), "FP64 request of the same values scores the same")
        check(len(set(np.round(p500, 6))) > 50, "the scores differ between rows (the model, not a constant)")

        try:
            bad = httpclient.InferInput("features", [1, INPUTS - 1], "FP32")
            bad.set_data_from_numpy(rows[:1, : INPUTS - 1], binary_data=False)
            client.infer(MODEL, [bad])
            check(False, "malformed request raises")
        except InferenceServerException as e:
            check(str(e.status()) == "400" and "shape" in (e.message() or ""), f"malformed request: 400 with a reason ({e.status()} {e.message()})")
        try:
            binary = httpclient.InferInput("features", [1, INPUTS], "FP32")
            binary.set_data_from_numpy(rows[:1], binary_data=True)
            client.infer(MODEL, [binary])
            check(False, "binary tensor data raises")
        except InferenceServerException as e:
            check(str(e.status()) == "400" and "binary" in (e.message() or ""), f"binary data: 400 with a reason ({e.status()} {e.message()})")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if failures:
        sys.exit(f"{len(failures)} OIP checks failed")
    print("oip: every check passed with tritonclient", importlib.metadata.version("tritonclient"))


if __name__ == "__main__":
    main()

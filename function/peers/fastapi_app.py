"""The FastAPI peer of make bench-peers: what a user writes around lightgbm.Booster.predict.

It speaks the Open Inference Protocol's infer route for one [N, 20] tensor, so that it gets the
very requests MLServer and the function get. Run: MODEL_FILE=model.txt uvicorn fastapi_app:app
"""

import json
import os

import lightgbm as lgb
import numpy as np
from fastapi import FastAPI, Request, Response

booster = lgb.Booster(model_file=os.environ["MODEL_FILE"])
app = FastAPI()


@app.get("/v2/health/ready")
def ready() -> Response:
    return Response(status_code=200)


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request) -> Response:
    req = json.loads(await request.body())
    tensor = req["inputs"][0]
    rows = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    probs = booster.predict(rows)
    out = {
        "model_name": name,
        "id": req.get("id", ""),
        "outputs": [{"name": "fraud_probability", "datatype": "FP64", "shape": [len(probs)], "data": probs.tolist()}],
    }
    return Response(content=json.dumps(out), media_type="application/json")

"""The floor of the serving benchmark: a bare Starlette JSON endpoint under uvicorn, one worker.

It parses the same request body and answers one small object per record, with no model, no
validation and no store: what any Python ASGI service costs before it does anything.

    python benchmarks/starlette_floor.py PORT
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def predict(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse([{"prediction": "no", "model_version": "0"} for _ in body["records"]])


async def ready(_: Request) -> JSONResponse:
    return JSONResponse({"ready": True})


app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/readyz", ready)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning")

"""The baseline of the events benchmark: the least a Flask app can do to store a POSTed
document (gunicorn: ``bench.baseline_app:create_app()``).

Reads ``MLP_MONGO_URI`` and ``MLP_BENCH_DB`` (default ``bench_baseline``).
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify, request
from pymongo import MongoClient

DEFAULT_URI = "mongodb://127.0.0.1:27017/?directConnection=true"


def create_app() -> Flask:
    """A Flask app with ``POST /insert`` (201) and ``GET /readyz``."""
    app = Flask(__name__)
    client: MongoClient = MongoClient(os.environ.get("MLP_MONGO_URI", DEFAULT_URI))
    collection = client[os.environ.get("MLP_BENCH_DB", "bench_baseline")]["inserts"]

    @app.post("/insert")
    def insert() -> tuple[Response, int]:
        doc = request.get_json(force=True)
        result = collection.insert_one(doc)
        return jsonify(id=str(result.inserted_id)), 201

    @app.get("/readyz")
    def readyz() -> Response:
        client.admin.command("ping")
        return jsonify(status="ready")

    return app

"""The database goes away and comes back under a running API (a PostgreSQL of the test's
own, stopped and restarted): requests get 503 store_unavailable meanwhile, never a
traceback, and the service recovers by itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from rag.embed import FakeEmbedder
from rag.pipeline import Pipeline
from rag.settings import Settings


def test_an_outage_is_a_503_and_the_service_recovers(settings: Settings, tmp_path: Path) -> None:
    pgserver = pytest.importorskip("pgserver")
    data = tmp_path / "pgdata"
    server = pgserver.get_server(data, cleanup_mode="stop")
    own = settings.model_copy(
        update={
            "store": "pgvector",
            "database_url": SecretStr(server.get_uri()),
            "database_connect_timeout": 2.0,
        }
    )
    pipeline = Pipeline.load(own, embedder=FakeEmbedder())
    question = {"question": "Where will NATO's new command be based?"}
    try:
        with TestClient(create_app(pipeline=pipeline)) as client:
            before = client.post("/ask", json=question)
            assert before.status_code == 200
            server.cleanup()  # the database stops

            down = client.post("/ask", json=question)
            assert down.status_code == 503
            assert down.json()["error"]["code"] == "store_unavailable"
            assert "Traceback" not in down.text
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["reason"] == "store_unavailable"

            server = pgserver.get_server(data, cleanup_mode="stop")  # and comes back
            # The pool reconnects in the background with a backoff: wait, never time it.
            deadline = time.monotonic() + 60
            while client.get("/health").status_code != 200:
                assert time.monotonic() < deadline, "never recovered"
                time.sleep(0.2)
            again = client.post("/ask", json=question)
            assert again.status_code == 200, again.text
            assert again.json()["answer"] == before.json()["answer"]
    finally:
        pipeline.store.close()
        server.cleanup()


def test_a_server_started_while_the_database_is_down_comes_up_by_itself(
    settings: Settings, tmp_path: Path
) -> None:
    pgserver = pytest.importorskip("pgserver")
    data = tmp_path / "pgdata"
    server = pgserver.get_server(data, cleanup_mode="stop")
    url = server.get_uri()
    server.cleanup()  # down before the API starts
    own = settings.model_copy(
        update={
            "store": "pgvector",
            "database_url": SecretStr(url),
            "database_connect_timeout": 2.0,
        }
    )
    try:
        with TestClient(create_app(settings=own)) as client:
            health = client.get("/health")
            assert health.status_code == 503 and health.json()["reason"] == "store_unavailable"
            server = pgserver.get_server(data, cleanup_mode="stop")
            deadline = time.monotonic() + 120
            while client.get("/health").status_code != 200:
                assert time.monotonic() < deadline, "never came up"
                time.sleep(0.5)
            answer = client.post("/ask", json={"question": "Where will the command be based?"})
            assert answer.status_code == 200, answer.text
            client.app.state.service.pipeline.store.close()  # type: ignore[attr-defined]
    finally:
        server.cleanup()

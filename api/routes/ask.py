"""POST /ask: a cited answer."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AnswerCounterDep, PipelineDep, SettingsDep, run_cpu
from api.schemas import AskRequest
from rag.pipeline import validate_question
from rag.types import Answer

router = APIRouter(tags=["rag"])


@router.post("/ask", response_model=Answer)
async def ask(
    body: AskRequest, pipeline: PipelineDep, settings: SettingsDep, answers: AnswerCounterDep
) -> Answer:
    """Answer a question from the articles: extractive, every sentence cited `[n]`."""
    question = validate_question(body.question, settings)
    # CPU-bound: a worker thread, so the event loop keeps serving other requests.
    answer = await run_cpu(pipeline.ask, question, body.top_k)
    answers.labels("ask", str(answer.abstained).lower()).inc()
    return answer

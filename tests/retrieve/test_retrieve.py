from __future__ import annotations

from rag.pipeline import Pipeline
from rag.retrieve import reciprocal_rank_fusion
from rag.types import Chunk


def test_rrf_rewards_agreement_and_keeps_singletons() -> None:
    fused = reciprocal_rank_fusion([[1, 2, 3], [2, 1, 4]], k=10)
    order = [item for item, _ in fused]
    assert set(order[:2]) == {1, 2} and set(order[2:]) == {3, 4}
    assert fused[0][1] > fused[2][1]


def test_near_duplicates_are_collapsed() -> None:
    from rag.retrieve import near_duplicate

    a = Chunk(0, "d", 0, 100, "x" * 100)
    b = Chunk(1, "d", 10, 110, "x" * 100)
    c = Chunk(2, "d", 90, 190, "y" * 100)
    assert near_duplicate(a, b) and not near_duplicate(a, c)
    same_words = Chunk(3, "e", 0, 40, "NATO sets up a command in Wiesbaden Germany")
    copy = Chunk(4, "f", 0, 40, "NATO sets up a command in Wiesbaden, Germany.")
    assert near_duplicate(same_words, copy)


def test_hybrid_finds_the_passage_and_spans_are_exact(pipeline: Pipeline) -> None:
    passages = pipeline.search("Ramstein Group Ukraine Defense Contact Group", top_k=5)
    assert passages[0].doc_id == "001_b9504cd1d273c395.txt"
    assert "Ramstein Group" in passages[0].text
    texts = {d.doc_id: d.text for d in pipeline.index.documents.values()}
    for p in passages:
        assert texts[p.doc_id][p.start : p.end] == p.text
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_top_k_is_respected_and_no_passage_overlaps_another(pipeline: Pipeline) -> None:
    for k in (1, 3, 8):
        passages = pipeline.search("NATO command Wiesbaden personnel", top_k=k)
        assert len(passages) == k
    passages = pipeline.search("NATO command Wiesbaden personnel", top_k=10)
    for i, a in enumerate(passages):
        for b in passages[i + 1 :]:
            if a.doc_id == b.doc_id:
                shared = min(a.end, b.end) - max(a.start, b.start)
                assert shared <= 0.6 * min(a.end - a.start, b.end - b.start)


def test_spelling_is_repaired_before_search(pipeline: Pipeline) -> None:
    from rag.retrieve.spelling import repair

    lexicon = pipeline.lexicon
    assert repair("new comand in Wiesbadn", lexicon) == "new command in wiesbaden"
    assert "Security Assistance and Training" in repair("What is NSATU?", lexicon)
    assert repair("how many ppl", lexicon) == "how many people"
    # a contraction typed without its apostrophe gets it back, and with it its stop words
    assert repair("didnt nato say so", lexicon) == "didn't nato say so"


def test_an_unknown_retrieval_mode_is_refused(pipeline: Pipeline) -> None:
    import pytest

    with pytest.raises(ValueError, match="sparse"):
        pipeline.retriever.retrieve("Ramstein", mode="sparse")


def test_langchain_retriever_returns_documents_with_offsets(pipeline: Pipeline) -> None:
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever

    from rag.integrations.langchain import RagRetriever

    retriever = RagRetriever(pipeline=pipeline, top_k=3)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("Ramstein Group")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    texts = {d.doc_id: d.text for d in pipeline.index.documents.values()}
    for d in docs:
        m = d.metadata
        assert texts[m["doc_id"]][m["start"] : m["end"]] == d.page_content
        assert m["title"] and m["rank"] >= 1

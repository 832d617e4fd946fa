"""RAG over cluster data: chunk records, embed, index (FAISS | Chroma + BM25), retrieve, prompt.

`Retriever.open(index_dir).search(text)` is the entry point other stages use.
"""

from kubetrainer.rag.retriever import Hit, Retriever

__all__ = ["Hit", "Retriever"]

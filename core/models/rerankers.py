"""Rerankers (cross-encoders): one relevance score per (query, document) pair, for ``rerank:X+R`` systems.

- ``CrossEncoderReranker``: a sentence-transformers ``CrossEncoder`` from a hub id (``BAAI/bge-reranker-base``,
  ``cross-encoder/ms-marco-MiniLM-L6-v2``) or a local folder; sequence-classification checkpoints.
- ``QwenReranker``: ``Qwen/Qwen3-Reranker-0.6B`` / 4B / 8B through the scoring recipe of their model card: a
  causal LM asked, in its chat template, whether the document meets the query's instruction; the score is
  p("yes") = softmax(logit("no"), logit("yes")) at the last position (left padding, so the last position is
  always a real token).
- ``ServedReranker`` (``core.models.endpoint.rerank``): a server's ``/rerank`` (TEI, Infinity, vLLM) or
  vLLM's ``/score``, over the same hardened transport as the embedding endpoints.

``load_reranker(name)`` picks one: ``endpoint:MODEL@BASE_URL`` is served; a name holding
``qwen3-reranker`` is the Qwen recipe; anything else a CrossEncoder. Hub ids load from the local cache when
the hub is offline (HF_HUB_OFFLINE) and say how to get the weights when they are not there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.errors import ModelLoadError
from core.models.device import resolve_device
from core.models.endpoint.rerank import RERANK_APIS, ServedReranker
from core.models.endpoint.spec import is_endpoint_name, parse_endpoint_name
from core.models.hub_cache import hub_offline, is_cached

QWEN_SYSTEM = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided. "
    'Note that the answer can only be "yes" or "no".'
)
QWEN_PREFIX = f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n<|im_start|>user\n"
QWEN_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
QWEN_DEFAULT_TASK = "Given a web search query, retrieve relevant passages that answer the query"
QWEN_MAX_LENGTH = 8192


def qwen_pair(query: str, document: str, instruction: str = QWEN_DEFAULT_TASK) -> str:
    """The user turn of the Qwen3-Reranker prompt for one pair (the model card's ``format_instruction``)."""
    return f"<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"


def _short_name(model: str) -> str:
    path = Path(model)
    return path.name if path.is_dir() else model.rsplit("/", 1)[-1]


def _local_only(model: str) -> bool:
    """Load from disk only: a folder, a cached hub model, or the hub switched off (then say how to fix)."""
    if Path(model).is_dir():
        return True
    if is_cached(model):
        return True
    if hub_offline():
        raise ModelLoadError(
            f"Reranker '{model}' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set: download it "
            f"where the hub is reachable (huggingface-cli download {model}) and copy the cache here (HF_HOME), "
            "give a local folder instead, or use a served reranker (endpoint:MODEL@BASE_URL)."
        )
    return False


def _load_error(model: str, exc: Exception) -> ModelLoadError:
    return ModelLoadError(
        f"Could not load reranker '{model}': {str(exc)[:300]}. Check the hub id or folder (a folder needs "
        "config.json, the weights and the tokenizer files), or use a served reranker (endpoint:MODEL@BASE_URL)."
    )


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` (sequence classification: one logit, or two labels)."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        max_length: int | None = 512,
        batch_size: int = 32,
        trust_remote_code: bool = False,
        revision: str | None = None,
    ) -> None:
        local_only = _local_only(model)
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:  # pragma: no cover - a requirement
            raise ModelLoadError(
                f"Cannot load reranker '{model}': {exc}. pip install -r requirements.txt"
            ) from exc
        self.device = resolve_device(device)
        try:
            self.model = CrossEncoder(
                model,
                device=self.device,
                max_length=max_length,
                trust_remote_code=trust_remote_code,
                local_files_only=local_only,
                revision=None if Path(model).is_dir() else revision,
            )
        except Exception as exc:
            raise _load_error(model, exc) from exc
        self.model_id, self.batch_size = model, int(batch_size)
        self.name = _short_name(model)

    def __repr__(self) -> str:
        return f"CrossEncoderReranker({self.model_id!r}, device={self.device!r})"

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """One score per document (higher = more relevant), in the documents' order."""
        if not documents:
            return []
        raw: Any = self.model.predict(
            [(query, d) for d in documents], batch_size=self.batch_size, show_progress_bar=False
        )
        rows = raw.tolist()
        if rows and isinstance(rows[0], list):  # two labels: the second is "relevant"
            return [float(r[-1]) for r in rows]
        return [float(r) for r in rows]


class QwenReranker:
    """Qwen3-Reranker by its model card's recipe: p("yes") for the pair in its chat template."""

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        instruction: str = QWEN_DEFAULT_TASK,
        max_length: int = QWEN_MAX_LENGTH,
        batch_size: int = 8,
        trust_remote_code: bool = False,
        revision: str | None = None,
    ) -> None:
        local_only = _local_only(model)
        try:
            import torch
            from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - a requirement
            raise ModelLoadError(
                f"Cannot load reranker '{model}': {exc}. pip install -r requirements.txt"
            ) from exc
        self.device = resolve_device(device)
        kwargs: dict[str, Any] = {"local_files_only": local_only, "trust_remote_code": trust_remote_code}
        if revision and not Path(model).is_dir():
            kwargs["revision"] = revision
        try:
            arch = (AutoConfig.from_pretrained(model, **kwargs).architectures or [""])[0]
        except Exception as exc:
            raise _load_error(model, exc) from exc
        if not arch.endswith("ForCausalLM"):
            raise ModelLoadError(
                f"Reranker '{model}' is a {arch or 'model of unknown architecture'}, not a causal LM: the "
                "Qwen3-Reranker recipe scores the 'yes'/'no' next-token logits of one; load a sequence-"
                "classification checkpoint as a CrossEncoder instead (a name without 'qwen3-reranker')."
            )
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left", **kwargs)
            dtype = torch.float32 if self.device == "cpu" else torch.float16
            causal_lm: Any = AutoModelForCausalLM.from_pretrained(model, dtype=dtype, **kwargs)
            self.model = causal_lm.to(self.device).eval()
        except Exception as exc:
            raise _load_error(model, exc) from exc
        yes, no = (self.tokenizer.convert_tokens_to_ids(t) for t in ("yes", "no"))
        unk = self.tokenizer.unk_token_id
        if not isinstance(yes, int) or not isinstance(no, int) or unk in (yes, no):
            raise ModelLoadError(
                f"Reranker '{model}' has no single 'yes' and 'no' tokens in its vocabulary, which the Qwen3-Reranker "
                "recipe scores: it is not a Qwen3-Reranker checkpoint; load it as a CrossEncoder instead."
            )
        self.yes_id, self.no_id = int(yes), int(no)
        self.prefix_ids = self.tokenizer.encode(QWEN_PREFIX, add_special_tokens=False)
        self.suffix_ids = self.tokenizer.encode(QWEN_SUFFIX, add_special_tokens=False)
        if max_length <= len(self.prefix_ids) + len(self.suffix_ids):
            raise ModelLoadError(
                f"max_length={max_length} leaves no room for the pair after the Qwen3-Reranker prompt "
                f"({len(self.prefix_ids) + len(self.suffix_ids)} tokens): use at least 512."
            )
        self.model_id, self.instruction = model, instruction
        self.max_length, self.batch_size = int(max_length), int(batch_size)
        self.name = _short_name(model)

    def __repr__(self) -> str:
        return f"QwenReranker({self.model_id!r}, device={self.device!r})"

    def _inputs(self, pairs: list[str]) -> Any:
        """The model card's ``process_inputs``: truncate each pair, wrap it in the prompt, left-pad the batch."""
        room = self.max_length - len(self.prefix_ids) - len(self.suffix_ids)
        enc = self.tokenizer(
            pairs, padding=False, truncation="longest_first", return_attention_mask=False, max_length=room
        )
        enc["input_ids"] = [self.prefix_ids + ids + self.suffix_ids for ids in enc["input_ids"]]
        batch = self.tokenizer.pad(
            enc, padding=True, return_tensors="pt"
        )  # every pair fits max_length already
        return {k: v.to(self.model.device) for k, v in batch.items()}

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """p("yes") per document, in the documents' order."""
        import torch

        out: list[float] = []
        pairs = [qwen_pair(query, d, self.instruction) for d in documents]
        for start in range(0, len(pairs), self.batch_size):
            with torch.inference_mode():
                logits = self.model(**self._inputs(pairs[start : start + self.batch_size])).logits[:, -1, :]
            two = torch.stack([logits[:, self.no_id], logits[:, self.yes_id]], dim=1).float()
            out += torch.nn.functional.log_softmax(two, dim=1)[:, 1].exp().tolist()
        return out


def load_reranker(
    name: str,
    *,
    device: str = "auto",
    api: str = "rerank",
    api_key: str | None = None,
    timeout: float = 60.0,
    trust_remote_code: bool = False,
) -> CrossEncoderReranker | QwenReranker | ServedReranker:
    """The reranker a name describes.

    Args:
        name: ``endpoint:MODEL@BASE_URL`` (served: BASE_URL used as given, e.g. ``http://host:7997`` for
            Infinity, ``http://host:8000/v1`` for vLLM), a hub id, or a local folder. A name holding
            ``qwen3-reranker`` uses the Qwen3-Reranker recipe; any other a sentence-transformers CrossEncoder.
        device: Local models: "auto", "cpu", "cuda" or "mps".
        api: Served models: "rerank" (``/rerank``: Infinity, vLLM, Cohere-style), "tei" (TEI's ``/rerank``
            with ``texts``) or "score" (vLLM's ``/score``).
        api_key: Served models: else ``EMBEDDING_API_KEY`` / ``OPENAI_API_KEY``.
        timeout: Served models: seconds for one whole request.
        trust_remote_code: Local models: run code shipped with a hub model (off unless you trust it).

    Raises:
        ModelLoadError: a local model cannot be loaded here (the message says how to fix it).
        EndpointError: a served model's name or base URL is malformed.
    """
    name = (name or "").strip()
    if not name:
        raise ModelLoadError(
            "No reranker named: give a hub id (BAAI/bge-reranker-base), a local folder, or endpoint:MODEL@BASE_URL."
        )
    if is_endpoint_name(name):
        parsed = parse_endpoint_name(name)
        if parsed is None:
            raise ModelLoadError(
                f"Reranker {name!r} is not of the form 'endpoint:MODEL@BASE_URL', e.g. "
                "'endpoint:BAAI/bge-reranker-base@http://127.0.0.1:7997'."
            )
        if api not in RERANK_APIS:
            raise ModelLoadError(f"Reranker api {api!r} is unknown: use one of {list(RERANK_APIS)}.")
        return ServedReranker(parsed[0], parsed[1], api=api, api_key=api_key, timeout=timeout)
    if "qwen3-reranker" in name.lower():
        return QwenReranker(name, device=device, trust_remote_code=trust_remote_code)
    return CrossEncoderReranker(name, device=device, trust_remote_code=trust_remote_code)

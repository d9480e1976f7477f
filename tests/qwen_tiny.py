"""Build a tiny, randomly initialised Qwen3-architecture sentence-transformers model for offline tests.

Its vectors mean nothing; its shapes (2560 output dims) and code paths (last-token pooling, left padding,
EOS appended by the tokenizer, Qwen3 prompts) are those of Qwen3-Embedding-4B.
"""

from __future__ import annotations

import json
from pathlib import Path

EOS = "<|endoftext|>"
HIDDEN = 2560
QUERY_PROMPT = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"

_SENTENCES = [
    "How do I implement JWT based user authentication?",
    "The server signs a JSON Web Token with a secret key and the client sends it in the Authorization header.",
    "Explain the consensus mechanism in blockchain.",
    "Proof of work makes nodes solve a hash puzzle before they may append a block.",
    "Proof of stake chooses validators in proportion to the coins they lock.",
    "Given a web search query, retrieve relevant passages that answer the query",
    "Instruct: Query: passage: query: document",
    "The embedding model maps text to a vector; similar texts get close vectors.",
    "Matryoshka representation learning keeps the first dimensions most informative.",
    "hnswlib builds a navigable small world graph for approximate nearest neighbour search.",
    "def authenticate(token: str) -> User: return decode(token, key=SECRET)",
    "import numpy as np; scores = docs @ query",
    "The whitepaper describes the storage layer, the network layer and the consensus layer.",
    "Recall at ten measures how many of the true neighbours the index returns.",
    "Cosine similarity of unit vectors equals their dot product.",
    "Left padding keeps the last token of every sequence in the final position.",
    "如何实现基于 JWT 的用户鉴权？",
    "服务器使用密钥对令牌签名，客户端在请求头中携带令牌。",
    "共识机制决定了区块链中的节点如何就账本状态达成一致。",
    "工作量证明要求节点计算哈希难题。",
    "权益证明按照质押数量选择验证者。",
    "向量检索把文本映射为向量，然后寻找最近邻。",
    "为这个句子生成表示以用于检索相关文章：",
    "接口文档说明了每个参数的类型和默认值。",
    "The quick brown fox jumps over the lazy dog.",
    "A vector database stores embeddings and serves nearest neighbour queries.",
    "Tokens are pieces of words; long documents are split into chunks.",
    "The API returns a list of embeddings, one per input string.",
    "Latency is reported as the median and the 95th percentile over repeated runs.",
    "Batch size trades memory for throughput on a GPU.",
]


def _train_tokenizer(out: Path):
    """A byte-level BPE tokenizer that appends EOS to every sequence, as Qwen3-Embedding's does."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_SENTENCES * 3, trainer=trainer)
    eos_id = tok.token_to_id(EOS)
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A:0 {EOS}:0", pair=f"$A:0 {EOS}:0 $B:1 {EOS}:1", special_tokens=[(EOS, eos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, pad_token=EOS, padding_side="left", model_max_length=8192
    )
    fast.save_pretrained(str(out))
    return fast


def build_tiny_qwen3(path: str | Path, *, seed: int = 0) -> Path:
    """Write the tiny model to `path` (a sentence-transformers folder) and return it."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import Qwen3Config, Qwen3Model

    path = Path(path)
    raw = path.parent / (path.name + "-hf")
    raw.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(raw)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=8192,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    Qwen3Model(config).to(torch.float32).save_pretrained(str(raw))
    transformer = Transformer(str(raw), max_seq_length=8192, processor_kwargs={"padding_side": "left"})
    model = SentenceTransformer(
        modules=[transformer, Pooling(HIDDEN, pooling_mode="lasttoken"), Normalize()],
        prompts={"query": QUERY_PROMPT, "document": ""},
        device="cpu",
    )
    model.save(str(path))
    # Qwen3-Embedding ships exactly this prompt config; keep it literal (ST may add version info).
    conf_file = path / "config_sentence_transformers.json"
    conf = json.loads(conf_file.read_text(encoding="utf-8"))
    conf.update(prompts={"query": QUERY_PROMPT, "document": ""}, default_prompt_name=None)
    conf_file.write_text(json.dumps(conf, indent=2), encoding="utf-8")
    return path

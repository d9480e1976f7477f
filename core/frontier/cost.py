"""Cost at a target scale, as a capacity planner reads it: RAM (vectors + HNSW graph + ids) x replicas, disk, one
embedding pass at a stated throughput, search cores, Qdrant's own sizing rule as a cross-check, and the tier Qdrant
recommends for large corpora (quantised vectors in RAM, originals on disk, rescoring).

Every figure follows ``FORMULAS``; recall is what was measured on the corpus at hand and is carried to the target
scale unchanged, which ``recall_caveat`` says in words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.frontier.measure import Measurement, Sweep
from core.models import EmbedCost, Throughput, embed_cost

ID_BYTES = 8  # a 64-bit point id per element
QDRANT_OVERHEAD = 1.5  # Qdrant's sizing rule: memory = vectors x dims x 4 B x 1.5
TIER_PRECISION = "int8"  # Qdrant's scalar quantisation keeps int8 codes in RAM


@dataclass(frozen=True)
class ScaleInputs:
    """What a deployment looks like; the defaults are rough list prices (2025), stated so they can be changed."""

    chunks: int = 10_000_000
    qps: float = 50.0
    replicas: int = 1  # copies of the index (RAM and disk); more for availability or throughput
    usd_per_gb_month: float = 4.0  # RAM on a memory-optimised cloud instance, about $4 per GB-month
    usd_per_gpu_hour: float = 2.0  # one data-centre GPU (on demand), about $2 per hour
    usd_per_disk_gb_month: float = 0.10  # block storage
    usd_per_cpu_core_month: float = 30.0  # one on-demand cloud vCPU, about $0.04 per hour


FORMULAS: tuple[str, ...] = (
    "RAM (GB) = chunks x (vector bytes at the precision + HNSW graph bytes + 8 B id) x replicas / 1e9",
    "HNSW graph bytes per element ≈ 2 x M x 4 + 4 (level-0 links) + (M x 4 + 4) / (M - 1) (upper levels, 1 in M "
    "elements per level) + 12 (label, link count) = 148.5 B at M = 16; the table shows this formula beside the "
    "built hnswlib index's measured bytes (its file size / vectors - vector bytes), and RAM uses the measured one",
    "disk (GB) = chunks x (index bytes per element + 4 x full dims (the float32 originals, to re-derive any "
    "configuration) + text bytes per chunk (payload) + 8 B id) x replicas / 1e9",
    "Qdrant's sizing rule (cross-check) = chunks x dims x 4 B x 1.5 x replicas / 1e9",
    "Qdrant tier for large corpora = int8 vectors + HNSW graph + ids in RAM; float32 originals and text on disk; "
    "the shortlist rescored from the originals (quality: the measured int8 HNSW configuration, before rescoring)",
    "embed hours = chunks / docs per second / 3600;  a GPU throughput: GPU-hours = embed hours (one GPU), $ = "
    "GPU-hours x $/GPU-hour;  a CPU throughput: CPU-hours = embed hours x cores, $ = CPU-hours x $/core-month / 730",
    "search ms at scale = p50 ms x chunks / measured chunks (exact: linear scan) or x log(chunks) / log(measured) "
    "(HNSW)",
    "CPU cores = queries per second x search ms at scale / 1000",
    "monthly $ = RAM GB x $/GB-month + disk GB x $/disk-GB-month + CPU cores x $/core-month",
    "recall and nDCG are measured on this corpus's chunks and carried to the target scale unchanged: HNSW recall "
    "at the same M and ef usually drops as the corpus grows, so measure on a sample near the target size",
)


def hnsw_graph_bytes(M: int) -> float:
    """hnswlib's graph bytes per element from M (FORMULAS): level-0 links, upper levels, label and link count."""
    m = max(int(M), 2)
    return 2 * m * 4 + 4 + (m * 4 + 4) / (m - 1) + 12


def measured_graph_bytes(row: Measurement) -> float | None:
    """The built hnswlib index's bytes per element less the vector's (None for a flat configuration)."""
    if row.index != "hnsw":
        return None
    return max(row.bytes_per_element - row.bytes_per_vector, 0.0)


def embedding(tp: Throughput, scale: ScaleInputs) -> EmbedCost:
    """One embedding pass over the target corpus at ``tp`` (core.models.embed_cost with the scale's prices)."""
    return embed_cost(
        tp,
        scale.chunks,
        usd_per_gpu_hour=scale.usd_per_gpu_hour,
        usd_per_cpu_core_month=scale.usd_per_cpu_core_month,
    )


def _search(row: Measurement, n: int) -> float:
    grow = (
        n / max(row.count, 1) if row.index == "exact" else math.log(max(n, 2)) / math.log(max(row.count, 2))
    )
    return row.p50_ms * grow


def _money(ram_gb: float, disk_gb: float, cores: float, scale: ScaleInputs) -> float:
    return (
        ram_gb * scale.usd_per_gb_month
        + disk_gb * scale.usd_per_disk_gb_month
        + cores * scale.usd_per_cpu_core_month
    )


def cost_at_scale(
    row: Measurement,
    *,
    full_dim: int,
    throughput: Throughput,
    scale: ScaleInputs,
    M: int = 16,
    text_bytes: float = 0.0,
) -> dict[str, float]:
    """One configuration's cost at the target scale, by FORMULAS (``M``: the HNSW index's; ``text_bytes``: mean
    UTF-8 bytes of a chunk's text, stored as payload)."""
    n, reps = scale.chunks, scale.replicas
    measured = measured_graph_bytes(row)
    formula = hnsw_graph_bytes(M) if row.index == "hnsw" else 0.0
    graph = measured if measured is not None else 0.0
    ram_gb = n * (row.bytes_per_vector + graph + ID_BYTES) * reps / 1e9
    disk_gb = n * (row.bytes_per_element + 4 * full_dim + text_bytes + ID_BYTES) * reps / 1e9
    ms = _search(row, n)
    emb = embedding(throughput, scale)
    return {
        "ram_gb": ram_gb,
        "graph_bytes_formula": formula,
        "graph_bytes_measured": float("nan") if measured is None else measured,
        "disk_gb": disk_gb,
        "qdrant_rule_gb": n * row.dims * 4 * QDRANT_OVERHEAD * reps / 1e9,
        "embed_hours": emb.hours,
        "billed_hours": emb.billed_hours,
        "embed_usd": emb.usd,
        "search_ms_at_scale": ms,
        "cpu_cores": scale.qps * ms / 1000,
        "monthly_usd": _money(ram_gb, disk_gb, scale.qps * ms / 1000, scale),
    }


@dataclass(frozen=True)
class Tier:
    """Qdrant's tier for large corpora priced at the target scale, from one model's measured int8 configuration."""

    model: str
    label: str
    quality_row: Measurement  # the int8 configuration whose quality and latency it carries
    cost: dict[str, float]


def qdrant_tier(
    s: Sweep, *, throughput: Throughput, scale: ScaleInputs, M: int = 16, text_bytes: float = 0.0
) -> Tier | None:
    """int8 vectors + HNSW graph + ids in RAM, float32 originals and text on disk, rescoring (FORMULAS); None
    when the sweep measured no int8 configuration at full dimension."""
    full = [r for r in s.rows if r.precision == TIER_PRECISION and r.dims == s.full_dim]
    row = next((r for r in full if r.index == "hnsw"), None) or next(iter(full), None)
    if row is None:
        return None
    n, reps = scale.chunks, scale.replicas
    graph = measured_graph_bytes(row)
    graph = hnsw_graph_bytes(M) if graph is None else graph
    ram_gb = n * (s.full_dim * 1 + graph + ID_BYTES) * reps / 1e9
    disk_gb = n * (s.full_dim * 4 + graph + text_bytes + ID_BYTES) * reps / 1e9
    c = cost_at_scale(
        row, full_dim=s.full_dim, throughput=throughput, scale=scale, M=M, text_bytes=text_bytes
    )
    c.update(ram_gb=ram_gb, disk_gb=disk_gb, monthly_usd=_money(ram_gb, disk_gb, c["cpu_cores"], scale))
    label = f"{s.full_dim} int8 RAM, float32 disk, rescore (Qdrant tier)"
    return Tier(s.model, label, row, c)


def recall_caveat(sweeps: list[Sweep] | tuple[Sweep, ...], scale: ScaleInputs) -> str:
    """'Quality measured on 606 chunks (200 queries), shown unchanged at 10,000,000 chunks: ...'."""
    counts = sorted({r.count for s in sweeps for r in s.rows})
    if not counts:
        return ""
    on = f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}–{counts[-1]:,}"
    return (
        f"Quality measured on {on} chunks, shown unchanged at {scale.chunks:,} chunks: HNSW recall at the same M "
        "and ef usually drops as the corpus grows; measure on a sample near the target size before signing."
    )


def text_bytes_per_chunk(texts: list[str]) -> float:
    """Mean UTF-8 bytes of the chunks' text (the payload a vector database stores beside each vector)."""
    if not texts:
        return 0.0
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / len(texts)

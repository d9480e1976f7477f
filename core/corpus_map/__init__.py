"""The corpus map: where on a corpus each model wins. A 2-D layout per model (UMAP), regions shared by both
(k-means, labelled by their distinctive terms), queries placed in regions with their nDCG@10 difference, per-region
wins and a bootstrap interval, and the chunks whose neighbourhoods moved most between the two models' spaces."""

from __future__ import annotations

from core.corpus_map.build import CorpusMap, build_map, joint_space
from core.corpus_map.figures import TIE_BAND, QueryPoint, RegionFigures, place_queries, region_figures
from core.corpus_map.layout import Layout, MapError, cached_layout, layout
from core.corpus_map.moved import moved_most
from core.corpus_map.regions import Region, choose_k, region_of, regions

__all__ = [
    "TIE_BAND",
    "CorpusMap",
    "Layout",
    "MapError",
    "QueryPoint",
    "Region",
    "RegionFigures",
    "build_map",
    "cached_layout",
    "choose_k",
    "joint_space",
    "layout",
    "moved_most",
    "place_queries",
    "region_figures",
    "region_of",
    "regions",
]

"""core.dims, the one owner of dimensions: the stated rule for trained and untrained models, one range check, one parser."""

from __future__ import annotations

import numpy as np
import pytest

from core.dims import (
    check_dims,
    check_reduction,
    mrl_stops,
    offered_dims,
    parse_dims,
    reduction_label,
    reductions,
    swept_dims,
)
from core.errors import SearchError


def test_a_matryoshka_model_is_offered_and_swept_at_its_trained_dims():
    trained = mrl_stops(2560)
    assert offered_dims(2560, trained) == list(trained)
    assert swept_dims(2560, trained) == list(trained)
    assert offered_dims(1024, (64, 256, 1024)) == swept_dims(1024, (64, 256, 1024)) == [64, 256, 1024]


def test_an_untrained_model_is_on_the_dimension_axis_everywhere_by_two_reductions():
    assert offered_dims(384) == swept_dims(384) == [32, 64, 128, 256, 384]
    assert offered_dims(768) == swept_dims(768) == [32, 64, 128, 256, 384, 512, 768]
    assert [(r.id, r.label) for r in reductions(384)] == [
        ("prefix", "post-hoc truncation"),
        ("pca", "PCA rotation"),
    ]
    assert [(r.id, r.label) for r in reductions(1024, (64, 256, 1024))] == [("prefix", "Matryoshka-trained")]
    assert reduction_label("prefix", trained=True) == "Matryoshka-trained"
    assert reduction_label("prefix", trained=False) == "post-hoc truncation"
    assert reduction_label("pca", trained=False) == "PCA rotation"


def test_a_reduction_the_model_lacks_is_refused_with_the_valid_ones():
    assert check_reduction("pca") == "pca"
    with pytest.raises(SearchError, match=r"Unknown reduction 'pca' for Qwen3.*\['prefix'\]"):
        check_reduction("pca", allowed=reductions(1024, (64, 1024)), what="Qwen3")
    with pytest.raises(SearchError, match=r"\['prefix', 'pca'\]"):
        check_reduction("svd")


def test_one_range_check_names_the_range_and_the_model():
    assert check_dims(np.int64(64), 384) == 64
    for bad in (0, 385, True, 1.5, "64"):
        with pytest.raises(SearchError, match=r"between 1 and 384 .*for all-MiniLM"):
            check_dims(bad, 384, what="all-MiniLM-L6-v2")


def test_one_parser_of_dimension_lists():
    assert parse_dims("64, 256,") == (64, 256) and parse_dims("") == ()
    with pytest.raises(ValueError, match=r"--qdrant-dims: 'a,64' is not a list of whole numbers like 64,256"):
        parse_dims("a,64", field="--qdrant-dims")
    with pytest.raises(ValueError, match="positive"):
        parse_dims("0,64")

"""core.dims, the one owner of dimensions: the stated rule for trained and untrained models, one range check, one parser."""

from __future__ import annotations

import numpy as np
import pytest

from core.dims import check_dims, mrl_stops, offered_dims, parse_dims, swept_dims
from core.errors import SearchError


def test_a_matryoshka_model_is_offered_and_swept_at_its_trained_dims():
    trained = mrl_stops(2560)
    assert offered_dims(2560, trained) == list(trained)
    assert swept_dims(2560, trained) == list(trained)
    assert offered_dims(1024, (64, 256, 1024)) == swept_dims(1024, (64, 256, 1024)) == [64, 256, 1024]


def test_an_untrained_model_is_sliced_on_the_pages_but_swept_at_full_dimension_only():
    assert offered_dims(384) == [32, 64, 128, 256, 384]
    assert offered_dims(768) == [32, 64, 128, 256, 384, 512, 768]
    assert swept_dims(384) == [384] and swept_dims(768) == [768]


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

"""The one CER definition: corpus ratio, normalisation, and the pure-Python fallback's parity."""

from __future__ import annotations

import random

import pytest

from ocr_server.recognition import scoring


def test_corpus_cer_weights_by_reference_length() -> None:
    # 1 edit in "ab" and 0 in "abcdefgh": corpus 1/10, not the mean of 0.5 and 0
    assert scoring.cer([("ax", "ab"), ("abcdefgh", "abcdefgh")]) == pytest.approx(0.1)
    assert scoring.cer([]) == 0.0


def test_normalised_cer_folds_case_and_spacing() -> None:
    pair = [("Total  RM 12.50", "TOTAL RM 12.50 ")]
    assert scoring.cer(pair) > 0
    assert scoring.cer(pair, normalise=True) == 0.0
    assert scoring.line_accuracy(pair) == 0.0
    assert scoring.line_accuracy(pair, normalise=True) == 1.0


def test_case_sensitive_page_figure_ignores_line_breaks_only() -> None:
    """The case-sensitive page CER: a row cut into two lines is not an error, a wrong case is."""
    from bench.common import CerCounter

    counter = CerCounter()
    counter.add("Name:\nJohn Smith", "Name: John Smith")
    assert counter.cer > 0 and counter.cer_cs == 0.0 and counter.cer_norm == 0.0
    counter.add("JOHN", "John")
    assert counter.cer_cs > 0 and counter.cer_norm == 0.0
    assert scoring.collapse_whitespace(" a \n\t b ") == "a b"


def test_alnum_cer_scores_letters_and_digits_only() -> None:
    """The scene-word protocol: ``$10.25`` read for the label ``1025`` is right, ``1O25`` is not."""
    assert scoring.alnum_fold("www.Top-Stock.com $10.25 ") == "wwwtopstockcom1025"
    assert scoring.cer([("$10.25", "1025")], normalise=True) > 0
    assert scoring.cer([("$10.25", "1025")], alnum=True) == 0.0
    assert scoring.cer([("1O25", "1025")], alnum=True) == pytest.approx(0.25)


def test_fallback_matches_rapidfuzz() -> None:
    rng = random.Random(3)
    for _ in range(200):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 12)))
        b = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 12)))
        assert scoring._edit_distance_py(a, b) == scoring.edit_distance(a, b)

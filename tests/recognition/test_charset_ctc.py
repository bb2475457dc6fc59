"""Charset round trip and CTC decoding on hand-made probability matrices."""

from __future__ import annotations

import numpy as np
import pytest

from ocr_server.recognition.charset import Charset
from ocr_server.recognition.ctc import beam_decode, greedy_decode

CS = Charset.default()


def probs_for(path: list[int], num_classes: int = CS.num_classes, p: float = 0.9) -> np.ndarray:
    """One frame per entry of ``path``, each putting ``p`` on that class and the rest spread evenly."""
    out = np.full((len(path), num_classes), (1 - p) / (num_classes - 1), dtype=np.float32)
    out[np.arange(len(path)), path] = p
    return out


def test_charset_covers_ascii_and_symbols() -> None:
    for ch in "aZ09 !~€£¥°±×÷•“”‘’–":
        assert ch in CS
    assert CS.num_classes == len(CS.chars) + 1
    assert CS.blank == 0


def test_encode_decode_round_trip(tmp_path) -> None:
    text = "Total RM 12.50 – 11:30 AM “ok” ±5°"
    assert CS.decode(CS.encode(text)) == text
    CS.to_file(tmp_path / "charset.txt")
    again = Charset.from_file(tmp_path / "charset.txt")
    assert again.chars == CS.chars  # the space survives the file format


def test_encode_rejects_unknown_and_normalise_drops_it() -> None:
    with pytest.raises(ValueError, match="not in the charset"):
        CS.encode("日本")
    assert CS.normalise("a\u00a0 b\t日 c") == "a b c"


def test_case_pairs_map_upper_to_lower() -> None:
    pairs = dict(CS.case_pairs())
    a_up, a_low = CS.encode("A")[0], CS.encode("a")[0]
    assert pairs[a_up] == a_low
    assert len(pairs) == 26


def test_greedy_collapses_repeats_and_blanks() -> None:
    h, e, el, o = CS.encode("helo")
    path = [h, h, 0, e, el, el, 0, el, o, 0]
    text, conf = greedy_decode(probs_for(path), CS)
    assert text == "hello"
    assert conf == pytest.approx(0.9, abs=1e-6)


def test_greedy_all_blank_is_empty_with_blank_confidence() -> None:
    text, conf = greedy_decode(probs_for([0, 0, 0]), CS)
    assert text == ""
    assert conf == pytest.approx(0.9, abs=1e-6)


def test_greedy_empty_matrix() -> None:
    assert greedy_decode(np.zeros((0, CS.num_classes), np.float32), CS) == ("", 0.0)


def test_beam_matches_greedy_on_confident_input() -> None:
    path = [CS.encode(c)[0] for c in "ab"] + [0] + CS.encode("b")
    probs = probs_for(path, p=0.95)
    assert beam_decode(probs, CS, beam_width=5)[0] == greedy_decode(probs, CS)[0] == "abb"


def test_beam_sums_alignments_where_greedy_cannot() -> None:
    """Classic case: the best single path is blank-blank, but 'a' is more probable summed over paths."""
    a = CS.encode("a")[0]
    probs = np.full((2, CS.num_classes), 1e-6, dtype=np.float32)
    probs[:, 0] = 0.5
    probs[:, a] = 0.4
    probs /= probs.sum(1, keepdims=True)
    assert greedy_decode(probs, CS)[0] == ""
    pb, pa = float(probs[0, 0]), float(probs[0, a])
    # P("") = pb^2 < P("a") = pa*pa + pa*pb + pb*pa, and confidence is P per frame (geometric mean)
    assert pb * pb < pa * pa + 2 * pa * pb
    text, conf = beam_decode(probs, CS, beam_width=3)
    assert text == "a"
    assert conf == pytest.approx(np.sqrt(pa * pa + 2 * pa * pb), rel=1e-3)

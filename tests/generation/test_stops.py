"""Stop sequences cut out of whole texts and streams alike, never leaking a half-emitted stop."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubetrainer.generation.stops import StopTrimmer, trim_at_stop


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40), st.lists(st.integers(min_value=1, max_value=6), max_size=8), st.sampled_from(["\n\n", "END", "x"]))
def test_streamed_stops_match_whole_text_stops(text: str, cuts: list[int], stop: str) -> None:
    """However the text is split into deltas, the emitted text is the text cut at the stop."""
    trimmer = StopTrimmer([stop])
    pieces, position = [], 0
    for size in cuts:
        pieces.append(text[position:position + size])
        position += size
    pieces.append(text[position:])
    emitted = "".join(trimmer.feed(piece) for piece in pieces) + trimmer.flush()
    expected = text.split(stop, 1)[0]
    assert emitted == expected
    assert trim_at_stop(text, [stop]) == (expected, stop in text)


def test_stop_held_back_until_decided() -> None:
    trimmer = StopTrimmer(["STOP"])
    assert trimmer.feed("hello ST") == "hello "
    assert trimmer.feed("AR") == "STAR"
    assert trimmer.feed(" and STOP here") == " and "
    assert trimmer.stopped and trimmer.flush() == ""

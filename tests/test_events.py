"""The answer as a stream of typed events (``assistant/events.py``): what the app shows as it arrives
and the API will send as Server-Sent Events."""

from __future__ import annotations

import json

import pytest

from assistant.events import Done, Piece, Reading, Sources, pieces, to_dict
from assistant.pipeline import Assistant
from assistant.settings import Settings

CUTS = [  # answer text -> the pieces it streams as (text, markers)
    ("- Quays. [1]\n- Harbours [2][3]\n- Piers. [4]",
     [("- Quays. [1]\n", (1,)), ("- Harbours [2][3]\n", (2, 3)), ("- Piers. [4]", (4,))]),
    ("The fund is £2.6 billion. [1] Councils bid for it. [2]",
     [("The fund is £2.6 billion. [1]", (1,)), (" Councils bid for it. [2]", (2,))]),
    # a marker inside a sentence ("the passage [2] names ...") does not cut it
    ("Bolton is in Greater Manchester. [1]\n\nThe passage [2] names Greater Manchester.",
     [("Bolton is in Greater Manchester. [1]\n\n", (1,)),
      ("The passage [2] names Greater Manchester.", (2,))]),
    # no markers (a refusal, a clarifying question): a piece per line
    ("Which Newport do you mean?\nNewport in Wales or on the Isle of Wight?",
     [("Which Newport do you mean?\n", ()), ("Newport in Wales or on the Isle of Wight?", ())]),
    ("", []),
]


@pytest.mark.parametrize(("text", "expected"), CUTS)
def test_an_answer_text_streams_as_pieces_that_join_up_to_it(text: str, expected: list) -> None:
    found = pieces(text)
    assert [(p.text, p.markers) for p in found] == expected
    assert "".join(p.text for p in found) == text


def test_ask_stream_reads_then_pieces_then_sources_then_done(corpus_settings: Settings, embedder) -> None:  # type: ignore[no-untyped-def]
    assistant = Assistant(corpus_settings, embedder=embedder)
    question = "How much is the UK Shared Prosperity Fund worth?"
    events = list(assistant.ask_stream(question))
    assert isinstance(events[0], Reading) and events[0].question == question
    assert isinstance(events[-2], Sources) and isinstance(events[-1], Done)
    answer = events[-1].answer
    streamed = [e for e in events if isinstance(e, Piece)]
    assert "".join(p.text for p in streamed) == answer.text and "£2.6 billion" in answer.text
    assert {n for p in streamed for n in p.markers} == {c.n for c in events[-2].citations}
    sent = [json.loads(json.dumps(to_dict(e))) for e in events]  # JSON-ready, as one SSE message each
    assert [m["event"] for m in sent][:2] == ["reading", "piece"] and sent[-1]["event"] == "done"
    assert sent[-1]["data"]["answer"] == answer.text

"""The chat page: ask, read the answer as it arrives, check each source in one click, rate it.

Every answer, source and status comes from ``Assistant.ask_stream`` (typed events); this page only
lays them out. Everything a document or a user wrote is escaped before it is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import streamlit as st

from app_pages.common import escaped, get_assistant, link_label, local_pdfs, plain_text, serving
from assistant import Assistant, AssistantError, Citation, Filters
from assistant.answers.guard import PRIVATE
from assistant.events import Done, Piece, Reading, Sources
from assistant.feedback import FeedbackStore
from assistant.render import UNVERIFIED

NOTICE = ("Answers are quoted from the documents, and every quote is linked to its source. "
          "Check the source before you rely on an answer for an important decision.")
PLACE_HELP = "Answers about funds and powers then say what applies there. Not stored."
log = logging.getLogger("levelup.app")


def ask_page() -> None:
    """The chat: the place box and document filter in the sidebar, the conversation, the notice."""
    embedded = bool(st.context.is_embedded)
    assistant = get_assistant()
    info = serving(assistant)
    if info is None:
        return
    if embedded:
        st.markdown("### Ask the Levelling Up documents")
        place = st.text_input("Your town or council (optional)", key="place", help=PLACE_HELP)
        documents: list[str] = []
    else:
        st.title("Levelling Up Assistant")
        st.markdown("Questions about the *Levelling Up the United Kingdom* White Paper and related policy "
                    "texts: its 12 missions, its funds, devolution and what applies where.")
        place, documents = sidebar(info)
    st.markdown(f"*{NOTICE}*")  # not st.caption: its grey is below 4.5:1 contrast (axe)
    chat(assistant, place, Filters(documents=tuple(documents)))


def sidebar(info) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """The place box, a document filter and what is indexed."""
    with st.sidebar:
        st.header("Your place")
        place = st.text_input("Your town or council (optional)", key="place", help=PLACE_HELP)
        st.header("Documents")
        titles = {d.id: d.title for d in info.documents}
        chosen = st.multiselect("Only answer from", options=list(titles), format_func=titles.get,
                                placeholder="All documents", key="documents")
        st.header("What is indexed")
        st.markdown(f"{len(info.documents)} documents, {info.passages:,} passages  \n"
                    f"Model: {escaped(info.model)}  \nBuilt: {escaped(info.built_at[:16].replace('T', ' '))}")
    return place, chosen


@st.fragment
def chat(assistant: Assistant, place: str, filters: Filters) -> None:
    """The conversation so far, then the new question's answer as it arrives. A fragment: a question
    reruns only the conversation, not the page around it (title, sidebar, status)."""
    messages = st.session_state.setdefault("messages", [])
    for position, message in enumerate(messages):
        with st.chat_message(message["role"]):
            if message["role"] == "user":
                st.markdown(escaped(message["text"]))
            else:
                show_answer(assistant, message["answer"], streamed=None)
                rate(assistant, position)
    question = st.chat_input("Ask about the missions, funds or devolution…")
    if not question:
        return
    with st.chat_message("user"):
        st.markdown(escaped(question))
    history = [m["text"] for m in messages if m["role"] == "user"]
    messages.append({"role": "user", "text": question})
    with st.chat_message("assistant"):
        try:
            events = assistant.ask_stream(question, history=history, filters=filters, place=place or None)
            answer = show_answer(assistant, None, streamed=events)
        except AssistantError as exc:  # an empty or unreadable question: said in the chat, not a red box
            st.markdown(escaped(str(exc)))
            messages.pop()
            return
        except Exception:  # a fault of ours: logged with its traceback for us, a plain message for the user
            log.exception("answering %r failed", question[:300])
            st.markdown("Something went wrong on our side while answering that, and nothing was changed. "
                        "Please try again, or ask it another way.")
            messages.pop()
            return
        messages.append({"role": "assistant", "answer": answer})
        rate(assistant, len(messages) - 1)


def rate(assistant: Assistant, position: int) -> None:
    """Thumbs under an answer, then an optional comment; both stored (``assistant/feedback.py``), never
    for an answer that refused personal data, and a comment holding any is not kept."""
    answer = st.session_state["messages"][position]["answer"]
    if answer.reason in PRIVATE:
        return
    store = FeedbackStore(assistant.settings.feedback_db)

    def rated() -> None:
        rating = st.session_state[f"rating-{position}"]
        row = st.session_state["messages"][position].get("feedback")
        if rating is not None and row is not None:
            store.rerate(row, rating)  # one row per answer, whichever thumb was clicked last
        elif rating is not None:
            st.session_state["messages"][position]["feedback"] = store.record(answer, rating)

    def commented() -> None:
        row = st.session_state["messages"][position].get("feedback")
        text = st.session_state[f"comment-{position}"]
        if row is not None and text.strip() and not store.comment(row, text):
            st.session_state[f"comment-{position}"] = ""
            st.session_state["dropped"] = position

    st.feedback("thumbs", key=f"rating-{position}", on_change=rated)
    if st.session_state.get(f"rating-{position}") is not None:
        st.text_input("Anything to add? (optional; please no personal details)", key=f"comment-{position}",
                      on_change=commented)
        if st.session_state.get("dropped") == position:
            st.markdown("That comment seemed to hold personal details, so it was not kept; the rating was.")


def show_answer(assistant: Assistant, answer, streamed: Iterator | None):  # type: ignore[no-untyped-def]
    """An answer (from the history, or arriving as events): notes, text, sources, more, next steps."""
    if streamed is not None:
        events = iter(streamed)
        first = next(events)  # how the question was read; raises for a question that cannot be asked
        for note in first.notes if isinstance(first, Reading) else ():
            st.markdown(f"Note: {escaped(note)}")
        done: list[Done] = []

        def text() -> Iterator[str]:
            for event in events:
                if isinstance(event, Piece):
                    yield escaped(event.text)
                elif isinstance(event, Sources):
                    continue
                elif isinstance(event, Done):
                    done.append(event)

        st.write_stream(text())
        answer = done[0].answer
    else:
        for note in answer.notes:
            st.markdown(f"Note: {escaped(note)}")
        st.markdown(escaped(answer.text))
    for line in answer.next_steps:
        st.info(line)
    if answer.citations:
        st.markdown("**Sources**")
        for citation in answer.citations:
            show_citation(assistant, citation)
    if answer.more:
        with st.expander("More from the documents"):
            for line in answer.more:
                st.markdown(escaped(line))
    if answer.related:
        st.markdown("**May be related**")
        for hit in answer.related:
            chunk = hit.chunk
            page = f", p. {chunk.page_label or chunk.page_start}" if chunk.page_start else ""
            link = f" · [Open the document at this page (new tab)]({chunk.link})" if chunk.link else ""
            st.markdown(f"{escaped(chunk.source.title)}{page}{link}  \n"
                        f"{escaped(chunk.text[:300])}{'…' if len(chunk.text) > 300 else ''}")
    return answer


def show_citation(assistant: Assistant, citation: Citation) -> None:
    """One source: where it is, the quote inside its passage, the licence and the links."""
    where = " · ".join(x for x in (citation.section and f"§ {citation.section}",
                                   citation.page and f"page {citation.page}") if x)
    kind = {"gazetteer": "ONS place lookup", "source": "the document's source record"}.get(citation.kind)
    lines = [f"**{escaped(f'[{citation.n}]')} {escaped(citation.title)}**  \n{escaped(citation.credit)}"
             + (f" · {escaped(where)}" if where else "") + (f" · from {kind}" if kind else "")]
    if not citation.verified:
        lines.append(f":warning: {UNVERIFIED}")
    lines.append(f"\u201c{escaped(citation.quote)}\u201d")  # not a blockquote: its grey fails contrast
    links = []
    if citation.url:
        label = link_label(citation.url, citation.page)
        links.append(f"[{label}]({citation.url})")
    local = local_pdfs(assistant.status().generation).get(citation.doc_id)
    if local and citation.pdf_page:
        links.append(f"[Our copy at page {citation.page} (new tab)]({local}#page={citation.pdf_page})")
    lines.append(" · ".join([*links, f"Licence: {escaped(citation.licence)}"]))
    st.markdown("\n\n".join(lines))
    passage = assistant.passage(citation.chunk_id) if citation.chunk_id else None
    if passage is not None and citation.quote in passage.text:
        with st.expander(f"The quote [{citation.n}] in its passage"):
            plain_text(passage.text, marked=citation.quote)



ask_page()

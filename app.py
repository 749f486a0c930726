"""The Levelling Up Assistant as a chat page: ``streamlit run app.py``.

Thin on purpose: every answer, source and status comes from ``assistant.Assistant`` (its event
stream, ``Assistant.ask_stream``); this file only lays them out. Everything a document or a user
wrote is escaped before it is shown, so pasted HTML, Markdown or script reads as text.

With ``?embed=true`` the page is a compact chat for an iframe on a hub site: no sidebar.
"""

from __future__ import annotations

import html
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import streamlit as st

from assistant import Assistant, AssistantError, Citation, Filters, IndexNotFoundError, fetch, get_settings
from assistant.answers.guard import PRIVATE
from assistant.events import Done, Piece, Reading, Sources
from assistant.feedback import FeedbackStore
from assistant.render import UNVERIFIED

NOTICE = ("Answers are quoted from the documents, and every quote is linked to its source. "
          "Check the source before you rely on an answer for an important decision.")
log = logging.getLogger("levelup.app")
STATIC = Path(__file__).resolve().parent / "static"  # served at app/static/ (.streamlit/config.toml)
PLACE_HELP = "Answers about funds and powers then say what applies there. Not stored."
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<&$])")


def escaped(text: str) -> str:
    """``text`` shown as it is in Markdown: every Markdown and HTML character escaped, line breaks kept."""
    return _MARKDOWN.sub(r"\\\1", text).replace("\n", "  \n")


@st.cache_resource(show_spinner=False)
def get_assistant() -> Assistant:
    """One assistant per process (the model and the serving index stay loaded between reruns)."""
    return Assistant(get_settings())


@st.cache_resource(show_spinner=False)
def local_pdfs(generation: str) -> dict[str, str]:
    """The indexed PDFs copied where Streamlit serves the app's own files (``server.enableStaticServing``;
    it refuses links out of ``static/``): doc id -> the copy's address. Once per index generation; a
    copy is named by the file's digest, so a changed file is never served stale."""
    assistant = get_assistant()
    found = {}
    for document in assistant.status().documents:
        path = Path(document.file)
        path = path if path.is_absolute() else assistant.settings.documents_dir / path
        if path.suffix.lower() != ".pdf" or not path.is_file():
            continue
        copy = STATIC / "documents" / f"{document.digest[:16]}.pdf"
        if not copy.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy.with_suffix(".tmp"))
            copy.with_suffix(".tmp").replace(copy)
        found[document.id] = f"app/static/documents/{copy.name}"
    return found


def main() -> None:
    embedded = bool(st.context.is_embedded)  # ?embed=true (Streamlit's own parameter: chrome hidden too)
    st.set_page_config(page_title="Levelling Up Assistant", page_icon=":material/menu_book:",
                       layout="centered", initial_sidebar_state="collapsed" if embedded else "auto")
    assistant = get_assistant()
    try:
        info = assistant.status()
    except IndexNotFoundError:
        first_run(assistant)
        return
    except AssistantError as exc:
        st.error(str(exc))
        return
    if not assistant.ready:
        with st.spinner("Loading the model and the index (once per server start)…"):
            assistant.warm_up()
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


def chat(assistant: Assistant, place: str, filters: Filters) -> None:
    """The conversation so far, then the new question's answer as it arrives."""
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
        label = f"Open the document at page {citation.page} (new tab)" if citation.page else \
            "Open the official page (new tab)"
        links.append(f"[{label}]({citation.url})")
    local = local_pdfs(assistant.status().generation).get(citation.doc_id)
    if local and citation.pdf_page:
        links.append(f"[Our copy at page {citation.page} (new tab)]({local}#page={citation.pdf_page})")
    lines.append(" · ".join([*links, f"Licence: {escaped(citation.licence)}"]))
    st.markdown("\n\n".join(lines))
    passage = assistant.passage(citation.chunk_id) if citation.chunk_id else None
    if passage is not None and citation.quote in passage.text:
        with st.expander(f"The quote [{citation.n}] in its passage"):
            before, _, after = passage.text.partition(citation.quote)
            marked = f"{html.escape(before)}<mark>{html.escape(citation.quote)}</mark>{html.escape(after)}"
            st.markdown(f"<p>{marked.replace(chr(10), '<br>')}</p>", unsafe_allow_html=True)


def first_run(assistant: Assistant) -> None:
    """No index yet: say so, and offer to build it with visible progress."""
    settings = assistant.settings
    st.title("Levelling Up Assistant")
    source = f"the local copy in {settings.corpus_mirror}" if settings.corpus_mirror else \
        "the official sources (gov.uk)"
    st.warning(f"No index has been built yet, so there is nothing to answer from. Building it fetches the "
               f"documents from {escaped(str(source))} and reads them: a few minutes on 2 cores.")
    if not st.button("Build the index", type="primary"):
        st.markdown("Or on the command line: `levelup fetch --mirror ../shared/corpus && levelup ingest`.")
        return
    with st.status("Building the index…", expanded=True) as status:
        st.write("Fetching the documents…")
        fetched = fetch(settings, mirror=settings.corpus_mirror, progress=False)
        if not fetched.ok:
            status.update(label="The documents could not be fetched", state="error")
            for source_id, reason in fetched.failed:
                st.write(f"{escaped(source_id)}: {escaped(reason)}")
            st.write("Run `levelup fetch --mirror FOLDER` with a local copy, or `levelup fetch` online, "
                     "then `levelup ingest`, and reload this page.")
            return
        bar = st.progress(0.0, text="Reading the documents…")
        report = assistant.ingest(progress=False, notify=lambda line: st.write(escaped(line)),
                                  on_progress=lambda phase, done, total: bar.progress(
                                      done / total if total else 1.0, text=f"{phase}: {done:,} of {total:,}"))
        if not report.generation:
            status.update(label="Nothing was indexed", state="error")
            for path, reason in report.failed:
                st.write(f"{escaped(path)}: {escaped(reason)}")
            return
        status.update(label=f"Indexed {report.passages:,} passages", state="complete")
    st.button("Start asking")


main()

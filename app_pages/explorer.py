"""The commitments explorer, for staff: passages by topic, document and page range, each with the
topics it carries and why (``Assistant.browse``), a search within the filter, links to the page."""

from __future__ import annotations

import streamlit as st

from app_pages.common import escaped, get_assistant, link_label, local_pdfs, plain_text, serving
from assistant import Filters, Row
from assistant.topics import GROUP_TITLES

EXPLORER_PAGE = 20  # passages shown at a time


def explorer_page() -> None:
    """Staff browse the passages by topic, document and page range, and search within them."""
    assistant = get_assistant()
    info = serving(assistant)
    if info is None:
        return
    st.title("Commitments explorer")
    st.markdown("Browse what the documents say and commit to, by topic, document and page. Each passage "
                "shows the topics it carries and why: it names the topic, or its meaning is close to the "
                "topic's. The missions come from the White Paper's own missions table.")
    with st.spinner("Working out the topics (once per index)…"):
        topics, counts = assistant.topics(), assistant.topic_counts()
    titles = {t.id: t.title for t in topics}
    options = [""]
    for group, title in GROUP_TITLES.items():
        if group in counts:
            options.append(group)
            titles[group] = f"All {title.lower()}"
        options += [t.id for t in topics if t.group == group]
    titles[""] = "All topics"
    topic = st.selectbox("Topic", options, key="explore-topic",
                         format_func=lambda t: titles[t] + (f" ({counts.get(t, 0)})" if t else ""))
    documents = {d.id: d.title for d in info.documents}
    document = st.selectbox("Document", ["", *documents], key="explore-document",
                            format_func=lambda d: documents.get(d, "All documents"))
    first_page, last_page = st.columns(2)
    start = first_page.number_input("From page", min_value=1, value=None, step=1, key="explore-from")
    end = last_page.number_input("To page", min_value=1, value=None, step=1, key="explore-to")
    text = st.text_input("Search within these passages (optional)", key="explore-text")
    pages = None
    if start is not None or end is not None:
        pages = (int(start or 1), int(end or 100_000))
        if pages[0] > pages[1]:
            st.markdown("The page range ends before it starts: showing every page.")
            pages = None
    filters = Filters(documents=(document,) if document else (), pages=pages,
                      topics=(topic,) if topic else ())
    if st.session_state.get("explore-filters") != (filters, text):  # a new filter starts at the top
        st.session_state["explore-filters"], st.session_state["explore-offset"] = (filters, text), 0
    offset = st.session_state.get("explore-offset", 0)
    found = assistant.browse(filters, text or None, limit=EXPLORER_PAGE, offset=offset)
    shown = f", showing {offset + 1}-{offset + len(found.rows)}" if found.rows else ""
    st.header(f"{found.total:,} passage{'s' * (found.total != 1)}{shown}", anchor=False)
    if not found.rows:
        st.markdown("No passage matches these filters. Try all documents, a wider page range or another "
                    "topic.")
    local = local_pdfs(info.generation)
    for row in found.rows:
        show_row(row, titles, local)
    if offset + len(found.rows) < found.total and not text:
        st.button("Show the next passages", key="explore-next",
                  on_click=lambda: st.session_state.update({"explore-offset": offset + EXPLORER_PAGE}))
    if offset:
        st.button("Back to the first passages", key="explore-first",
                  on_click=lambda: st.session_state.update({"explore-offset": 0}))


def show_row(row: Row, titles: dict[str, str], local: dict[str, str]) -> None:
    """One passage of the explorer: where it is, its links, its topics with why, its text."""
    chunk = row.chunk
    page = chunk.page_label or chunk.page_start
    st.subheader(f"{chunk.source.title}" + (f", page {page}" if page else ""), anchor=False)
    where = [f"§ {escaped(chunk.section)}"] if chunk.section else []
    if chunk.link:
        label = link_label(chunk.link, page)
        where.append(f"[{label}]({chunk.link})")
    if chunk.doc_id in local and chunk.page_start:
        where.append(f"[Our copy at page {page} (new tab)]({local[chunk.doc_id]}#page={chunk.page_start})")
    st.markdown(" · ".join(where) or " ")
    if row.labels:
        st.markdown("Topics: " + "; ".join(f"**{escaped(titles.get(label.topic, label.topic))}**, "
                                           f"{escaped(label.why)}" for label in row.labels))
    text = " ".join(chunk.text.split())
    plain_text(text if len(text) <= 700 else text[:700].rsplit(" ", 1)[0] + " …")
    if len(text) > 700:
        with st.expander("The whole passage"):
            plain_text(chunk.text)



explorer_page()

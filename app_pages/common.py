"""What both pages of the app share: the one assistant per process, escaping, the served PDFs, the
first run. Imported (never run) by the pages, so its cached resources exist once per process."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import streamlit as st

from assistant import Assistant, AssistantError, IndexInfo, IndexNotFoundError, fetch, get_settings

STATIC = Path(__file__).resolve().parents[1] / "static"  # served at app/static/ (.streamlit/config.toml)
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
        path = assistant.document_file(document.id)
        if path is None or path.suffix.lower() != ".pdf":
            continue
        copy = STATIC / "documents" / f"{document.digest[:16]}.pdf"
        if not copy.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy.with_suffix(".tmp"))
            copy.with_suffix(".tmp").replace(copy)
        found[document.id] = f"app/static/documents/{copy.name}"
    return found


def serving(assistant: Assistant) -> IndexInfo | None:
    """What is indexed, with the model and index loaded; None (after saying why) when there is none."""
    try:
        info = assistant.status()
    except IndexNotFoundError:
        first_run(assistant)
        return None
    except AssistantError as exc:
        st.error(str(exc))
        return None
    if not assistant.ready:
        with st.spinner("Loading the model and the index (once per server start)…"):
            assistant.warm_up()
    return info


def link_label(url: str, page: object) -> str:
    """What an official link says: the page it opens at, when it does (a PDF at ``#page=N``); else
    that it is the official page (a web page has no page to open at, whatever page the text was on)."""
    if page and "#page=" in url:
        return f"Open the document at page {page} (new tab)"
    return "Open the official page (new tab)"


def plain_text(text: str, marked: str | None = None) -> None:
    """A document's text as a paragraph, exactly as written: HTML-escaped, so neither Markdown, HTML nor
    a bare address ("www.gov.uk") is interpreted; ``marked`` (a part of it) is highlighted."""
    before, found, after = text.partition(marked) if marked else (text, "", "")
    shown = html.escape(before) + (f"<mark>{html.escape(found)}</mark>{html.escape(after)}" if found else "")
    st.markdown(f"<p>{shown.replace(chr(10), '<br>')}</p>", unsafe_allow_html=True)


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

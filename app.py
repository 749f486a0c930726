"""The Levelling Up Assistant in the browser: ``streamlit run app.py``.

Thin on purpose: it sets the page up and routes to the two pages in ``app_pages/``, the chat
("Ask", ``ask.py``) and, for staff, the commitments explorer (``explorer.py``); every answer,
passage and status they show comes from ``assistant.Assistant``. With ``?embed=true`` the app is a
compact chat for an iframe on a hub site: no sidebar, no explorer.
"""

from __future__ import annotations

import streamlit as st


def main() -> None:
    embedded = bool(st.context.is_embedded)  # ?embed=true (Streamlit's own parameter: chrome hidden too)
    st.set_page_config(page_title="Levelling Up Assistant", page_icon=":material/menu_book:",
                       layout="centered", initial_sidebar_state="collapsed" if embedded else "auto")
    pages = [st.Page("app_pages/ask.py", title="Ask", icon=":material/chat:", url_path="ask", default=True)]
    if not embedded:
        pages.append(st.Page("app_pages/explorer.py", title="Commitments explorer",
                             icon=":material/list_alt:", url_path="explorer"))
    st.navigation(pages, position="hidden" if embedded else "sidebar").run()


main()

"""Judge (blind): Pooled, blind relevance judgments."""

import streamlit as st

from ui import widgets

widgets.page_header("Judge (blind)", "Pooled, blind relevance judgments.")
st.info("This page is being built.", icon=":material/construction:")

"""Report: One self-contained decision report."""

import streamlit as st

from ui import widgets

widgets.page_header("Report", "One self-contained decision report.")
st.info("This page is being built.", icon=":material/construction:")

"""Blind A/B votes: Which list is better, with the model names hidden."""

import streamlit as st

from ui import widgets

widgets.page_header("Blind A/B votes", "Which list is better, with the model names hidden.")
st.info("This page is being built.", icon=":material/construction:")

"""Home page of the retrieval comparison dashboard."""

import streamlit as st

st.set_page_config(page_title="Retrieval Compare", page_icon="🔎", layout="wide")
st.title("Retrieval Compare")
st.write("Which embedding model should we ship, and at what cost?")

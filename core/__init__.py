"""Core logic of the retrieval comparison dashboard (no streamlit imports)."""

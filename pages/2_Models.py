"""Models & indexes: choose model A and B, see what a build costs here, build both with progress."""

import pandas as pd
import streamlit as st

from core.cost import estimate_build
from core.device import resolve_device
from core.hub_cache import availability
from core.models import resolve_model
from core.presets import PRESETS
from ui import build, resources, state, widgets
from ui.cost_text import describe, suggest
from ui.text import escape_md

build.choose_default_pair(resources.current_corpus())  # before the header, so the sidebar shows the pair
widgets.page_header(
    "Models & indexes",
    "Pick the two models to compare, check what a build costs on this machine, then build both indexes.",
)

corpus = resources.current_corpus()
if state.get("models_fallback_reason"):
    st.warning(
        "Using the bundled offline pair (multilingual-e5-small vs all-MiniLM-L6-v2) instead of the headline pair "
        f"Qwen3-Embedding-4B vs bge-base, because {escape_md(state.get('models_fallback_reason'))}. "
        "To compare the headline pair: run on a GPU machine, pre-download the models (HF_HOME), or serve "
        "Qwen3-Embedding-4B from vLLM/TEI/Ollama and choose **OpenAI-compatible endpoint** below.",
        icon=":material/info:",
    )

OTHER = "Other: Hugging Face id or local path"
ENDPOINT = "OpenAI-compatible endpoint"
CHOICES = [*PRESETS, OTHER, ENDPOINT]


def _initial_choice(name: str | None) -> str:
    if not name:
        return CHOICES[0]
    if name in PRESETS:
        return name
    return ENDPOINT if name.startswith("endpoint:") else OTHER


def model_picker(slot: str) -> None:
    """Preset / custom / endpoint choice for one slot; writes models_<slot> when complete."""
    s = slot.lower()
    current = state.get(f"models_{s}")
    choice_key = f"_models_choice_{s}"
    st.session_state.setdefault(choice_key, _initial_choice(current))
    choice = st.selectbox(f"Model {slot}", CHOICES, key=choice_key)
    name = current
    if choice == OTHER:
        st.session_state.setdefault(
            f"_models_custom_{s}", current if current and current not in PRESETS else ""
        )
        name = st.text_input(
            "Hugging Face id or local folder", key=f"_models_custom_{s}", placeholder="BAAI/bge-small-en-v1.5"
        ).strip()
    elif choice == ENDPOINT:
        if current and current.startswith("endpoint:") and "@" in current:  # refill after a page switch
            served, _, base = current[len("endpoint:") :].partition("@")
            st.session_state.setdefault(f"_models_ep_url_{s}", base)
            st.session_state.setdefault(f"_models_ep_model_{s}", served)
        url = st.text_input(
            "Base URL", key=f"_models_ep_url_{s}", placeholder="http://127.0.0.1:8000/v1"
        ).strip()
        model = st.text_input(
            "Served model name", key=f"_models_ep_model_{s}", placeholder="Qwen3-Embedding-4B"
        ).strip()
        st.text_input(
            "API key (kept in this browser session only; or set EMBEDDING_API_KEY)",
            type="password",
            key=f"_models_ep_key_{s}",
        )
        name = f"endpoint:{model}@{url}" if url and model else ""
    else:
        name = choice
    if name and name != current:
        state.put(f"models_{s}", name)
        state.put(f"built_{s}", None)
        state.put("models_fallback_reason", "")
    if not name:
        st.info("Fill in the fields above to choose this model.")
        return
    try:
        spec = resolve_model(name)
    except Exception as exc:
        widgets.show_error(exc)
        return
    where = availability(spec)
    mrl = f"{min(spec.mrl_dims)}–{max(spec.mrl_dims)}" if spec.mrl_dims else "not trained for truncation"
    facts = pd.DataFrame(
        [
            ("dimensions", f"{spec.dim:,}" if spec.dim else "known after loading"),
            ("Matryoshka dims", mrl),
            ("parameters", f"{spec.params / 1e6:,.0f} M" if spec.params else "unknown"),
            ("max tokens", f"{spec.max_tokens:,}" if spec.max_tokens else "the model's own"),
            ("licence", spec.licence or "unknown"),
            ("available here", where),
        ],
        columns=["", "value"],
    )
    st.dataframe(facts, hide_index=True, width="stretch")
    if "{task}" in spec.query_prompt:
        st.text_area(
            "Query instruction (Qwen3-style task)",
            key=f"models_instr_{s}",
            placeholder=spec.default_task,
            help="Empty: the model's default task. Applied to queries only, never to documents.",
            height=80,
        )
    elif spec.query_prompt:
        st.caption(
            f"Query prompt: “{escape_md(spec.query_prompt)}” · document prompt: "
            + (f"“{escape_md(spec.doc_prompt)}”" if spec.doc_prompt else "none")
        )
    st.number_input(
        "Max tokens (0 = model default)", min_value=0, max_value=32768, step=64, key=f"models_max_tokens_{s}"
    )
    if spec.backend == "endpoint":
        endpoint_tools(slot, name)


def endpoint_tools(slot: str, name: str) -> None:
    """Test connection and config check buttons for an endpoint slot."""
    from core.endpoint_check import config_check, local_reference, test_connection

    key = st.session_state.get(f"_models_ep_key_{slot.lower()}") or None
    c1, c2 = st.columns(2)
    if c1.button("Test connection", key=f"_models_test_{slot}", width="stretch"):
        try:
            report = test_connection(resources.embedder(name, api_key=key))
            st.success(escape_md(report.summary))
        except Exception as exc:
            widgets.show_error(exc)
    if c2.button("Check against a local copy", key=f"_models_check_{slot}", width="stretch"):
        try:
            remote = resources.embedder(name, api_key=key)
            reference = local_reference(remote.spec)
            if reference is None:
                st.info("No local copy of this model is available here to check the endpoint against.")
                return
            report = config_check(remote, resources.embedder(reference))
            verdict = "agrees with" if report.passed else "does NOT agree with"
            text = (
                f"The endpoint {verdict} local {escape_md(reference)}: cosine min {report.min_cosine:.4f}, "
                f"mean {report.mean_cosine:.4f} (pass at {report.threshold})."
            )
            (st.success if report.passed else st.error)(
                text + (" " + escape_md(report.hint) if report.hint else "")
            )
            st.dataframe(
                pd.DataFrame(
                    [
                        {"probe": r.probe.text[:60], "kind": r.probe.kind, "cosine": round(r.cosine, 4)}
                        for r in report.results
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        except Exception as exc:
            widgets.show_error(exc)


cols = st.columns(2, gap="large")
for col, slot in zip(cols, build.SLOTS, strict=True):
    with col, st.container(border=True):
        model_picker(slot)

with st.expander("Device and index parameters"):
    c = st.columns(4)
    c[0].selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="models_device")
    c[1].number_input("HNSW M", min_value=4, max_value=96, step=4, key="models_hnsw_m")
    c[2].number_input("ef_construction", min_value=16, max_value=800, step=16, key="models_hnsw_efc")
    c[3].number_input("ef (search)", min_value=10, max_value=1000, step=10, key="models_hnsw_ef")
    st.caption(
        "M=16, ef_construction=200, ef=128 keep recall@10 ≥ 0.99 against exact search at a fraction of its cost."
    )
    st.checkbox(
        "Trust remote code (run Python code shipped inside a model repository)",
        key="models_trust_remote_code",
        help="Off by default. Only for models you trust: their code runs on this machine with your permissions.",
    )
    if state.get("models_trust_remote_code"):
        st.warning(
            "Remote code is enabled: loading a model now runs code from its repository on this machine. "
            "Untick this unless you trust every model you load.",
            icon=":material/warning:",
        )

if not widgets.need_corpus():
    st.stop()

st.subheader("Cost on this machine")
rows = []
for slot in build.SLOTS:
    name = state.get(f"models_{slot.lower()}")
    if not name:
        continue
    try:
        spec = resolve_model(name)
        counts = resources.chunk_token_counts(corpus, name)
        device = build.slot_settings(slot)["device"]
        device = resolve_device(device)
        settings = build.slot_settings(slot)
        calibration = None
        if build.built_index(slot) is None:
            calibration = resources.calibration(
                name,
                device=settings["device"],
                max_tokens=settings["max_tokens"],
                trust_remote_code=settings["trust_remote_code"],
                texts=[c.text for c in corpus.chunks[:16]],
            )
        est = estimate_build(
            spec, n_tokens=sum(counts), n_chunks=len(counts), device=device, calibration=calibration
        )
        rows.append((slot, est))
    except Exception as exc:
        widgets.show_error(exc)
for slot, est in rows:
    built = build.built_index(slot)
    line = escape_md(describe(est))
    st.markdown(f"**{slot}** · {line}" + (" — already built ✅" if built is not None else ""))
    st.caption(escape_md(est.basis))
    if advice := suggest(est):
        st.warning(escape_md(advice), icon=":material/hourglass_top:")

go = st.button("Build both indexes", type="primary", key="models_build")
st.button("Cancel", key="models_cancel", help="Stops the running build; chunks already embedded are kept.")
if st.session_state.get("models_cancel"):
    st.info("Build cancelled. Chunks embedded so far are kept in the store and will not be embedded again.")
if go:
    for slot in build.SLOTS:
        try:
            key = st.session_state.get(f"_models_ep_key_{slot.lower()}") or None
            build.build_slot(slot, corpus, api_key=key)
        except Exception as exc:
            widgets.show_error(exc)

built = [(slot, build.built_index(slot)) for slot in build.SLOTS]
if any(mi is not None for _, mi in built):
    st.subheader("Build stats")
    stats_rows = []
    for slot, mi in built:
        if mi is None or mi.stats is None:
            continue
        s = mi.stats
        stats_rows.append(
            {
                "model": f"{slot} · {s.model}",
                "chunks": s.chunks,
                "newly embedded": s.embedded,
                "model calls": s.model_calls,
                "embed s": round(s.embed_seconds, 2),
                "items/s": round(s.items_per_second, 1),
                "index s": round(s.index_seconds, 2),
                "dims": s.dims,
                "index MB": round(s.index_bytes / 2**20, 2),
            }
        )
    st.dataframe(pd.DataFrame(stats_rows), hide_index=True, width="stretch")
    if all(mi is not None for _, mi in built):
        st.page_link(
            widgets.PAGES["compare"], label="Next: compare the two models", icon=":material/compare_arrows:"
        )

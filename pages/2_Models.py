"""Models & indexes: choose model A and B, see what a build costs here, build both with progress."""

import pandas as pd
import streamlit as st

from core.bundle import endpoint_hosts
from core.errors import DashboardError
from core.models import PRESETS, availability, display_label
from core.models.endpoint import (
    config_check,
    endpoint_name,
    is_endpoint_name,
    local_reference,
    parse_endpoint_name,
    test_connection,
)
from core.search import KIND_LABELS
from core.text import format_count, plural
from core.types import Corpus, ModelSpec
from ui import build, bundle, byo, index_backend, pair, resources, state, systems, widgets
from ui.cost_text import describe, suggest
from ui.state import Slot
from ui.text import escape_md

OTHER = "Other: Hugging Face id or local path"
ENDPOINT = "OpenAI-compatible endpoint"
CHOICES = [*PRESETS, OTHER, ENDPOINT]


def fallback_banner(corpus: Corpus | None) -> None:
    """Two lines when the bundled pair stands in for the headline pair: what runs and why, and the one fix."""
    running = (state.model_name("A") or "", state.model_name("B") or "")
    if not state.fallback_reason() or not all(running):
        return
    if notice := pair.fallback_notice(corpus, running, here=True):  # this page: the selector, not a link here
        st.info("  \n".join(notice), icon=":material/info:")


def _initial_choice(name: str | None) -> str:
    if not name:
        return CHOICES[0]
    if name in PRESETS:
        return name
    return ENDPOINT if is_endpoint_name(name) else OTHER


def custom_name(s: str, current: str | None) -> str:
    """A Hugging Face id or local folder typed by the user."""
    state.default_page_value(f"_models_custom_{s}", current if current and current not in PRESETS else "")
    return st.text_input(
        "Hugging Face id or local folder", key=f"_models_custom_{s}", placeholder="BAAI/bge-small-en-v1.5"
    ).strip()


def endpoint_choice(s: str, current: str | None) -> str:
    """endpoint:MODEL@URL from the base URL and served model fields ('' until both are filled)."""
    parsed = parse_endpoint_name(current or "")
    if parsed is not None:  # refill after a page switch
        served, base = parsed
        state.default_page_value(f"_models_ep_url_{s}", base)
        state.default_page_value(f"_models_ep_model_{s}", served)
    url = st.text_input(
        "Base URL (several servers of one model: separate with commas)",
        key=f"_models_ep_url_{s}",
        placeholder="http://127.0.0.1:8000/v1",
        help="e.g. http://gpu1:8000/v1,http://gpu2:8000/v1 — batches are spread over all of them; Test connection "
        "checks each one and names a server that differs.",
    ).strip()
    model = st.text_input(
        "Served model name", key=f"_models_ep_model_{s}", placeholder="Qwen3-Embedding-4B"
    ).strip()
    st.text_input(
        "API key (kept in this browser session only; or set EMBEDDING_API_KEY)",
        type="password",
        key=f"_models_ep_key_{s}",
    )
    return endpoint_name(model, url) if url and model else ""


def model_facts(spec: ModelSpec, where: str) -> None:
    """Dimensions, Matryoshka range, size, window, licence and where the model is, as a small table."""
    mrl = f"{min(spec.mrl_dims)}–{max(spec.mrl_dims)}" if spec.mrl_dims else "not trained for truncation"
    facts = pd.DataFrame(
        [
            ("dimensions", f"{spec.dim:,}" if spec.dim else "known after loading"),
            ("Matryoshka dims", mrl),
            ("parameters", format_count(spec.params) if spec.params else "unknown"),
            ("max tokens", f"{spec.max_tokens:,}" if spec.max_tokens else "the model's own"),
            ("licence", spec.licence or "unknown"),
            ("available here", where),
        ],
        columns=["", "value"],
    )
    st.dataframe(
        facts,
        hide_index=True,
        width="stretch",
        column_config={
            "value": st.column_config.TextColumn(width="large")
        },  # "not trained for truncation" fits
    )


def prompt_settings(s: str, spec: ModelSpec) -> None:
    """The Qwen3-style task (editable), or the fixed query/document prompts, and the max-tokens override."""
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


def model_picker(slot: Slot) -> None:
    """Preset / custom / endpoint choice for one slot; writes models_<slot> when complete."""
    s = slot.lower()
    current = state.model_name(slot)
    state.default_page_value(f"_models_choice_{s}", _initial_choice(current))
    choice = st.selectbox(f"Model {slot}", CHOICES, key=f"_models_choice_{s}", format_func=display_label)
    if choice == OTHER:
        name = custom_name(s, current)
    elif choice == ENDPOINT:
        name = endpoint_choice(s, current)
    else:
        name = choice
    if name and name != current:
        state.choose_model(slot, name)
        st.rerun()  # the sidebar and the fallback banner, drawn above, still name the model chosen before
    elif not name:
        st.info("Fill in the fields above to choose this model.")
        return
    try:
        spec = resources.model_spec(name)
        where = availability(spec)
    except Exception as exc:
        widgets.show_error(exc)
        return
    model_facts(spec, where)
    if spec.note:  # what to know before choosing it (the wordllama preset: weak at retrieval)
        st.caption(escape_md(spec.note))
    untrusted_note(slot, name)
    prompt_settings(s, spec)
    if spec.backend == "endpoint":
        endpoint_tools(slot, name)


def untrusted_note(slot: Slot, name: str) -> None:
    """While Trust remote code is on, a model an imported bundle put in the slot still loads without remote code:
    say so, with a button by which the user chooses it themselves (choosing another model does too)."""
    if not state.untrusted_model(slot) or not state.get("models_trust_remote_code"):
        return
    st.info(
        escape_md(f"Model {slot} ({name}) was named by an imported bundle: it loads without remote code, although "
                  "Trust remote code is on, until you choose it here."),
        icon=":material/shield:",
    )  # fmt: skip
    label, key = f"Allow remote code for model {slot}", f"_models_trust_{slot.lower()}"
    if st.button(label, key=key, icon=":material/key:"):
        state.trust_model(slot)
        st.rerun()


def check_against_local(name: str, key: str | None) -> None:
    """Embed probes through the endpoint and through a local copy of the same model; show the cosines."""
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
    (st.success if report.passed else st.error)(text + (" " + escape_md(report.hint) if report.hint else ""))
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


def endpoint_tools(slot: Slot, name: str) -> None:
    """Test connection and config check buttons for an endpoint slot; for an endpoint an imported bundle named,
    first a confirmation of its host (until then nothing, and no API key, is sent there)."""
    if state.held_endpoint(slot):
        st.warning(escape_md(build.held_message(slot, name, button_below=True)), icon=":material/shield:")
        label = escape_md(f"Confirm {endpoint_hosts(name) or name} for model {slot} (send my API key there)")
        if st.button(label, key=f"_models_confirm_{slot}", icon=":material/key:"):
            state.confirm_endpoint(slot)
            st.rerun()
        return
    key = state.api_key(slot)
    c1, c2 = st.columns(2)
    if c1.button("Test connection", key=f"_models_test_{slot}", width="stretch"):
        try:
            report = test_connection(resources.endpoint_embedder(name, api_key=key))
            st.success(escape_md(report.summary))
        except Exception as exc:
            widgets.show_error(exc)
    if c2.button("Check against a local copy", key=f"_models_check_{slot}", width="stretch"):
        try:
            check_against_local(name, key)
        except Exception as exc:
            widgets.show_error(exc)


def index_settings() -> None:
    """Device, HNSW parameters and the trust-remote-code switch."""
    with st.expander("Device and index parameters"):
        c = st.columns(4)
        c[0].selectbox("Device", ["auto", "cpu", "cuda", "mps"], key="models_device")
        c[1].number_input("HNSW M", min_value=4, max_value=96, step=4, key="models_hnsw_m")
        c[2].number_input("ef_construction", min_value=16, max_value=800, step=16, key="models_hnsw_efc")
        c[3].number_input("ef (search)", min_value=10, max_value=1000, step=10, key="models_hnsw_ef")
        st.caption(
            "M=16, ef_construction=200, ef=128 keep recall@10 ≥ 0.99 against exact search at a fraction of its cost."
        )
        index_backend.settings()
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


def cost_section(corpus: Corpus) -> dict[str, float]:
    """One line per slot: time and memory of a build on this machine, and advice when it is slow.

    Returns the estimated seconds per slot (the build's progress uses them for its ETA and its report)."""
    st.subheader("Cost on this machine")
    seconds: dict[str, float] = {}
    collection = index_backend.byo_settings()
    for slot in build.SLOTS:
        name = state.model_name(slot)
        if not name:
            continue
        if slot == "B" and collection:
            st.markdown(f"**B** · Qdrant collection {escape_md(repr(collection['collection']))}: nothing to "
                        f"embed or index here ({collection['points']:,} points read in {collection['seconds']:.1f} s)")  # fmt: skip
            continue
        try:
            # the throughput recorded by the last build, else a timed sample of 32 chunks of the loaded model
            with st.spinner(
                f"Estimating the build of {escape_md(display_label(name))}: counting tokens, timing the model on 32 chunks …"
            ):
                est = build.estimate(slot, corpus)
        except Exception as exc:
            widgets.show_error(exc)
            continue
        seconds[slot] = est.seconds
        built = build.built_index(slot) is not None
        st.markdown(
            f"**{slot}** · {escape_md(describe(est))}"
            + (" — :material/check_circle: already built" if built else "")
        )
        st.caption(escape_md(est.basis))
        if not built and (advice := suggest(est)):  # no "would take 23 min" for an index that exists
            st.warning(escape_md(advice), icon=":material/hourglass_top:")
    return seconds


def build_section(corpus: Corpus, estimates: dict[str, float]) -> None:
    """Build (or reuse) both indexes under one progress bar, with a Cancel; rerun after a clean build. With the
    user's own Qdrant collection as B, only A is built (B is searched where it is)."""
    only_a = index_backend.byo_settings() is not None
    if build.build_panel(
        "models",
        corpus,
        label="Build index A" if only_a else "Build both indexes",
        slots=("A",) if only_a else build.SLOTS,
        estimates=estimates,
        api_keys={slot: state.api_key(slot) for slot in build.SLOTS},
        show_error=widgets.show_error,
        button_key="models_build",
    ):
        st.rerun()  # the sidebar, the cost lines ("already built") and the stats were drawn before the build


def build_stats() -> None:
    """Chunks, model calls, throughput, timings and sizes of the built indexes."""
    built = [(slot, build.built_index(slot)) for slot in build.SLOTS]
    stats_rows = [
        {
            "model": f"{slot} · {display_label(s.model)}",
            "chunks": s.chunks,
            "newly embedded": s.embedded,
            "model calls": s.model_calls,
            "embed s": round(s.embed_seconds, 2),
            "items/s": round(s.items_per_second, 1),
            "index s": round(s.index_seconds, 2),
            "dims": s.dims,
            "index MB": round(s.index_bytes / 2**20, 2),
        }
        for slot, mi in built
        if mi is not None and (s := mi.stats) is not None
    ]
    if not stats_rows:
        return
    st.subheader("Build stats")
    st.dataframe(pd.DataFrame(stats_rows), hide_index=True, width="stretch")
    if all(mi is not None for _, mi in built):
        st.page_link(
            widgets.PAGES["compare"], label="Next: compare the two models", icon=":material/compare_arrows:"
        )
        bundle.export_controls("models")  # the session as one file: demo it elsewhere with nothing to embed


def systems_section(corpus: Corpus) -> None:
    """BM25, hybrid and reranked systems beside the two models: does the big model beat keywords or a reranker?"""
    if not all(build.built_index(slot) is not None for slot in build.SLOTS):
        return
    st.subheader("Baselines: BM25, hybrid and reranking")
    st.caption(
        "Is a dense model needed at all, and would a cheap one plus keywords or a reranker beat the big one? "
        "BM25 (bm25s, built in seconds, no model) and each model fused with it (reciprocal rank fusion, k = 60) "
        "become systems Compare, Evaluate and the report rank beside A and B. A reranker re-scores a system's "
        "top 50 with a cross-encoder (a hub id such as BAAI/bge-reranker-base, a local folder, or "
        "endpoint:MODEL@URL); it adds its time to every query."
    )
    st.text_input(
        "Reranker (optional)",
        key="systems_reranker",
        placeholder="BAAI/bge-reranker-base or endpoint:MODEL@http://host:7997",
        help="Adds 'rerank: model + reranker' to the choices below. Served rerankers speak /rerank (Infinity, vLLM, TEI).",
    )
    offered = systems.offered()
    chosen = [s for s in state.get("systems_chosen") if s in offered]
    state.offered_choices("systems_pick", offered, chosen or offered[:2])  # a choice made on other models
    picked = st.multiselect("Systems to build", offered, key="systems_pick")
    if st.button("Build systems", icon=":material/add:", disabled=not picked):
        for spec in state.get("systems_chosen"):
            if spec not in picked:
                systems.forget(spec)
        done = []
        for spec in picked:
            try:
                with st.spinner(f"Building {escape_md(spec)} ..."):
                    done.append(systems.build_one(corpus, spec).name)
            except (DashboardError, ValueError) as exc:
                widgets.show_error(exc)
        if done:
            st.success(
                f"Built {len(done)} {plural(len(done), 'system')}: Compare, Evaluate, Judge and the report use them now.",
                icon=":material/check:",
            )
    built, missing = systems.resolved(corpus)
    for spec, why in missing.items():
        st.warning(f"**{escape_md(spec)}** is not available with the models built now: {escape_md(why)}",
                   icon=":material/link_off:")  # fmt: skip
    if not built:
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "system": name,
                    "kind": KIND_LABELS.get(sys_.kind, sys_.kind),
                    "build s": round(sys_.build_seconds, 2),
                    "index MB": round(sys_.index_bytes / 2**20, 2),
                }
                for name, sys_ in built.items()
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def settings_check(corpus: Corpus) -> None:
    """Before a build: what each model needs to be compared fairly on this corpus (prompts, window, Matryoshka,
    chunking), each ok or to look at, with the fix."""
    st.subheader("Settings check")
    st.caption(
        "The settings that, when wrong, flip a comparison: each model's query prompt, the chunks longer than its "
        "window, whether it is Matryoshka-trained, and the chunking both see."
    )
    try:
        widgets.settings_check_panel(corpus)
    except Exception as exc:  # a check that cannot be made says why; the page goes on
        widgets.show_error(exc)


def render() -> None:
    pair.choose_default_pair(resources.current_corpus())  # before the header, so the sidebar shows the pair
    widgets.page_header(
        "Models & indexes",
        "Pick the two models to compare, check what a build costs on this machine, then build both indexes.",
    )
    fallback_banner(resources.current_corpus())
    cols = st.columns(2, gap="large")
    collection = index_backend.byo_settings()
    for col, slot in zip(cols, build.SLOTS, strict=True):
        with col, st.container(border=True):
            if slot == "B" and collection:
                byo.card(collection)  # model B is an existing Qdrant collection
            else:
                model_picker(slot)
    corpus = resources.current_corpus()
    if corpus is not None:
        settings_check(corpus)
    byo.form()
    index_settings()
    if not widgets.need_corpus() or corpus is None:
        return
    estimates = cost_section(corpus)
    build_section(corpus, estimates)
    build_stats()
    systems_section(corpus)


render()

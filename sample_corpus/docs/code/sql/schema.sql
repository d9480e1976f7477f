-- Lumen metadata schema (PostgreSQL 15+).
-- Documents and chunks live here; vectors live in the HNSW index service, keyed by chunk id.
-- 元数据库表结构：工作区、文档、切块、API key、刷新令牌、webhook 投递记录。

CREATE TABLE workspaces (
    id            TEXT PRIMARY KEY,              -- ws_...
    name          TEXT NOT NULL,
    region        TEXT NOT NULL CHECK (region IN ('us', 'eu', 'cn')),
    plan          TEXT NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'team', 'business', 'enterprise')),
    embed_model   TEXT NOT NULL DEFAULT 'lumen-embed-m',
    embed_dims    INT  NOT NULL DEFAULT 1024,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE documents (
    id            TEXT PRIMARY KEY,              -- doc_...
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL,
    external_id   TEXT,                          -- caller's id; re-upload replaces the document
    title         TEXT NOT NULL,
    mime_type     TEXT NOT NULL,
    language      TEXT,                          -- detected main language: en, zh, ...
    bytes         BIGINT NOT NULL,
    sha256        CHAR(64) NOT NULL,             -- duplicate detection
    status        TEXT NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'parsing', 'embedding', 'indexed', 'failed', 'deleted')),
    failure       TEXT,                          -- e.g. 'encrypted', 'no_text_layer'
    metadata      JSONB NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at    TIMESTAMPTZ,                   -- soft delete; purged after 30 days
    UNIQUE (workspace_id, external_id)
);

-- keyset pagination: ORDER BY created_at DESC, id DESC
CREATE INDEX documents_page_idx ON documents (workspace_id, created_at DESC, id DESC);
CREATE INDEX documents_metadata_idx ON documents USING GIN (metadata);

CREATE TABLE chunks (
    id            TEXT PRIMARY KEY,              -- chk_...
    document_id   TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    ordinal       INT  NOT NULL,
    text          TEXT NOT NULL,
    char_start    INT  NOT NULL,
    char_end      INT  NOT NULL,
    page          INT,                           -- PDF page, 1-based
    heading_path  TEXT[] NOT NULL DEFAULT '{}',
    token_count   INT  NOT NULL,
    tsv           TSVECTOR,                      -- keyword channel (BM25-like ranking)
    UNIQUE (document_id, ordinal)
);
CREATE INDEX chunks_tsv_idx ON chunks USING GIN (tsv);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    prefix        CHAR(8) NOT NULL UNIQUE,
    digest        CHAR(64) NOT NULL,             -- HMAC-SHA256 of the key, never the key itself
    scopes        TEXT[] NOT NULL,
    allowed_cidrs CIDR[] NOT NULL DEFAULT '{}',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);

-- Refresh tokens rotate on every use; a reused token revokes its whole family (LMN-401-05).
CREATE TABLE refresh_tokens (
    jti           TEXT PRIMARY KEY,
    family_id     TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    digest        CHAR(64) NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ,
    revoked_at    TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE webhook_deliveries (
    id            BIGSERIAL PRIMARY KEY,
    webhook_id    TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    attempt       INT  NOT NULL,
    status_code   INT,
    latency_ms    INT,
    next_retry_at TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Retention job (runs nightly): purge soft-deleted documents after 30 days.
-- DELETE FROM documents WHERE deleted_at < now() - INTERVAL '30 days';

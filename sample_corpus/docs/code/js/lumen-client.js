/**
 * Minimal dependency-free Lumen API client for Node.js 18+ and browsers (uses global fetch).
 *
 * - Authenticates with an API key (server side) or a short-lived JWT access token (browser).
 * - Refreshes the JWT once when the API answers 401 LMN-401-03 (token expired).
 * - Retries 429/502/503/504 with exponential backoff + full jitter, honouring Retry-After.
 * - Follows cursor pagination with an async iterator.
 */

const RETRY_STATUSES = new Set([429, 502, 503, 504]);

export class LumenError extends Error {
  constructor(status, code, message, requestId) {
    super(`${status} ${code}: ${message}`);
    this.name = "LumenError";
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class LumenClient {
  /**
   * @param {object} opts
   * @param {string} [opts.apiKey] lk_live_... key (never ship it to a browser)
   * @param {string} [opts.accessToken] JWT access token
   * @param {() => Promise<string>} [opts.onTokenExpired] returns a fresh access token
   * @param {string} [opts.baseUrl]
   * @param {number} [opts.maxRetries]
   */
  constructor({ apiKey, accessToken, onTokenExpired, baseUrl = "https://api.lumen.example.com/v2", maxRetries = 4 } = {}) {
    if (!apiKey && !accessToken) {
      throw new TypeError("LumenClient needs either apiKey or accessToken");
    }
    this.credential = apiKey ?? accessToken;
    this.onTokenExpired = onTokenExpired;
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.maxRetries = maxRetries;
  }

  backoffMs(attempt, retryAfter) {
    if (retryAfter && !Number.isNaN(Number(retryAfter))) {
      return Math.min(30_000, Number(retryAfter) * 1000);
    }
    const ceiling = Math.min(30_000, 500 * 2 ** attempt);
    return Math.random() * ceiling;
  }

  async request(method, path, body) {
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const headers = { Authorization: `Bearer ${this.credential}`, Accept: "application/json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (method === "POST") headers["Idempotency-Key"] ??= crypto.randomUUID();
      const res = await fetch(this.baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (res.ok) return res.json();

      const payload = (await res.json().catch(() => ({}))).error ?? {};
      if (res.status === 401 && payload.code === "LMN-401-03" && this.onTokenExpired && !refreshed) {
        this.credential = await this.onTokenExpired();
        refreshed = true;
        continue;
      }
      if (RETRY_STATUSES.has(res.status) && attempt < this.maxRetries) {
        await sleep(this.backoffMs(attempt, res.headers.get("Retry-After")));
        continue;
      }
      throw new LumenError(res.status, payload.code ?? "unknown", payload.message ?? res.statusText,
        res.headers.get("X-Request-Id"));
    }
  }

  search(query, { topK = 10, filters, vectorWeight } = {}) {
    const hybrid = vectorWeight === undefined ? undefined : { vector_weight: vectorWeight };
    return this.request("POST", "/search", { query, top_k: topK, filters, hybrid });
  }

  async *listDocuments({ limit = 100 } = {}) {
    let cursor;
    do {
      const qs = new URLSearchParams({ limit: String(limit) });
      if (cursor) qs.set("cursor", cursor);
      const page = await this.request("GET", `/documents?${qs}`);
      yield* page.data;
      cursor = page.has_more ? page.next_cursor : undefined;
    } while (cursor);
  }
}

// Example:
// const lumen = new LumenClient({ apiKey: process.env.LUMEN_API_KEY });
// const res = await lumen.search("JWT refresh token rotation", { topK: 3 });
// for await (const doc of lumen.listDocuments()) console.log(doc.id, doc.title);

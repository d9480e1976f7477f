// Package ratelimit implements the per-key token bucket used by the Lumen API gateway.
//
// Each API key (or JWT tenant id) gets its own bucket that refills at Rate tokens per second up to
// Burst tokens. Allow reports whether a request may pass and, if not, how long the client should
// wait; the gateway turns that into a 429 response with code LMN-429-01 and a Retry-After header.
package ratelimit

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limit is the refill rate and burst size of one plan.
type Limit struct {
	Rate  float64 // tokens per second
	Burst float64 // bucket capacity
}

// Plans maps plan names to their search limits.
var Plans = map[string]Limit{
	"free":     {Rate: 10, Burst: 20},
	"team":     {Rate: 50, Burst: 100},
	"business": {Rate: 200, Burst: 400},
}

type bucket struct {
	tokens  float64
	updated time.Time
}

// Limiter holds one bucket per key.
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	now     func() time.Time
}

// New returns an empty Limiter using the wall clock.
func New() *Limiter {
	return &Limiter{buckets: make(map[string]*bucket), now: time.Now}
}

// Allow takes one token from key's bucket. It returns whether the request may proceed, the tokens
// left, and the wait before a token is available when it may not.
func (l *Limiter) Allow(key string, lim Limit) (ok bool, remaining int, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, found := l.buckets[key]
	if !found {
		b = &bucket{tokens: lim.Burst, updated: now}
		l.buckets[key] = b
	}
	elapsed := now.Sub(b.updated).Seconds()
	b.tokens = math.Min(lim.Burst, b.tokens+elapsed*lim.Rate)
	b.updated = now
	if b.tokens >= 1 {
		b.tokens--
		return true, int(b.tokens), 0
	}
	need := (1 - b.tokens) / lim.Rate
	return false, 0, time.Duration(need * float64(time.Second))
}

// Middleware rate-limits requests by the bearer credential; planOf resolves a key to its plan.
func (l *Limiter) Middleware(planOf func(key string) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Authorization")
		lim, known := Plans[planOf(key)]
		if !known {
			lim = Plans["free"]
		}
		ok, remaining, wait := l.Allow(key, lim)
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(int(lim.Burst)))
		w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"error":{"code":"LMN-429-01","message":"rate limit exceeded"}}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Sweep drops buckets idle for longer than maxIdle; call it from a ticker.
func (l *Limiter) Sweep(maxIdle time.Duration) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	cutoff := l.now().Add(-maxIdle)
	dropped := 0
	for k, b := range l.buckets {
		if b.updated.Before(cutoff) {
			delete(l.buckets, k)
			dropped++
		}
	}
	return dropped
}

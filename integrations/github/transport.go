package github

import (
	"bytes"
	"container/list"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/rs/zerolog"
)

// CallStats counts the requests a Client has sent.
type CallStats struct {
	// Requests is every request sent to GitHub, 304s included.
	Requests int
	// NotModified is the GET requests GitHub answered 304 because the remembered answer was still
	// current; they do not count against the rate limit.
	NotModified int
}

// Bounds of the remembered answers: enough for every branch, pull request, run and check list a
// few deploys in flight poll, small enough to never matter for memory.
const (
	cacheEntries  = 512
	maxCachedBody = 1 << 20
)

// conditionalTransport makes GET requests conditional. It remembers the last 200 answer with an
// ETag or Last-Modified per URL, sends If-None-Match / If-Modified-Since with the next GET of that
// URL, and turns GitHub's 304 back into the remembered 200 (with the 304's fresh headers, such as
// the rate limit), so that go-github and the callers never see a 304.
type conditionalTransport struct {
	next http.RoundTripper
	log  zerolog.Logger

	mu      sync.Mutex
	answers *lru
	counts  CallStats
}

func newConditionalTransport(next http.RoundTripper, log zerolog.Logger) *conditionalTransport {
	if next == nil {
		next = http.DefaultTransport
	}
	return &conditionalTransport{next: next, log: log, answers: newLRU(cacheEntries)}
}

// answer is a remembered 200.
type answer struct {
	etag, lastModified string
	header             http.Header
	body               []byte
}

func (t *conditionalTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	key := req.URL.String() + " " + req.Header.Get("Accept") // one URL may be asked for in several media types
	var known *answer
	if req.Method == http.MethodGet {
		known = t.remembered(key)
	}
	if known != nil {
		req = req.Clone(req.Context()) // a RoundTripper must not change its caller's request
		if known.etag != "" {
			req.Header.Set("If-None-Match", known.etag)
		}
		if known.lastModified != "" {
			req.Header.Set("If-Modified-Since", known.lastModified)
		}
	}

	resp, err := t.next.RoundTrip(req)
	t.count(resp != nil && resp.StatusCode == http.StatusNotModified && known != nil)
	if err != nil {
		return nil, err
	}
	t.log.Debug().Str("method", req.Method).Str("path", req.URL.Path).Int("status", resp.StatusCode).Msg("github")

	switch {
	case known != nil && resp.StatusCode == http.StatusNotModified:
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return replay(resp, known), nil
	case req.Method == http.MethodGet && resp.StatusCode == http.StatusOK:
		return t.remember(key, resp)
	}
	return resp, nil
}

func (t *conditionalTransport) remembered(key string) *answer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.answers.get(key)
}

func (t *conditionalTransport) count(notModified bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counts.Requests++
	if notModified {
		t.counts.NotModified++
	}
}

func (t *conditionalTransport) stats() CallStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.counts
}

// remember keeps a 200 answer that GitHub can validate later, and returns the response with its
// body re-readable.
func (t *conditionalTransport) remember(key string, resp *http.Response) (*http.Response, error) {
	etag, lastModified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if etag == "" && lastModified == "" || resp.ContentLength > maxCachedBody {
		return resp, nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > maxCachedBody {
		return resp, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.answers.put(key, &answer{etag: etag, lastModified: lastModified, header: resp.Header.Clone(), body: body})
	return resp, nil
}

// replay is the remembered answer as a fresh 200, with the headers the 304 brought (ETag, rate
// limit) laid over the remembered ones.
func replay(notModified *http.Response, known *answer) *http.Response {
	header := known.header.Clone()
	for name, values := range notModified.Header {
		header[name] = values
	}
	header.Set("Content-Length", strconv.Itoa(len(known.body)))
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK,
		Proto: notModified.Proto, ProtoMajor: notModified.ProtoMajor, ProtoMinor: notModified.ProtoMinor,
		Header: header, Body: io.NopCloser(bytes.NewReader(known.body)), ContentLength: int64(len(known.body)),
		Request: notModified.Request, TLS: notModified.TLS,
	}
}

// lru is a bounded map of remembered answers that forgets the least recently used first.
type lru struct {
	capacity int
	order    *list.List // of *lruEntry, most recently used first
	entries  map[string]*list.Element
}

type lruEntry struct {
	key    string
	answer *answer
}

func newLRU(capacity int) *lru {
	return &lru{capacity: capacity, order: list.New(), entries: map[string]*list.Element{}}
}

func (l *lru) get(key string) *answer {
	element, ok := l.entries[key]
	if !ok {
		return nil
	}
	l.order.MoveToFront(element)
	return element.Value.(*lruEntry).answer
}

func (l *lru) put(key string, a *answer) {
	if element, ok := l.entries[key]; ok {
		element.Value.(*lruEntry).answer = a
		l.order.MoveToFront(element)
		return
	}
	l.entries[key] = l.order.PushFront(&lruEntry{key: key, answer: a})
	if l.order.Len() > l.capacity {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.entries, oldest.Value.(*lruEntry).key)
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	meta1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// journal records every request the rack answered and rewrites the state file after each: what
// the tests count and compare (read by __tests__/helpers/realrack.ts, RealRackState).
type journal struct {
	mu         sync.Mutex
	h          *harness
	file       string
	calls      []call
	failBuilds int // -fail-builds-503 left
}

type call struct {
	Time   string            `json:"time"`
	Method string            `json:"method"`
	Path   string            `json:"path"`
	Query  string            `json:"query,omitempty"`
	Form   map[string]string `json:"form"`
	Status int               `json:"status"`
	Error  string            `json:"error,omitempty"`
	Bytes  int64             `json:"request_bytes"`
}

// state is the state file. Builds and releases are as the real BuildGet and ReleaseGet read
// them back from their CRDs; objects are the files provider/k8s keeps under its storage.
type state struct {
	System     any              `json:"system,omitempty"`
	App        any              `json:"app,omitempty"`
	Builds     map[string]any   `json:"builds"`
	Releases   map[string]any   `json:"releases"`
	Objects    map[string]int64 `json:"objects"`
	Promotions []promotion      `json:"promotions"`
	Calls      []call           `json:"calls"`
}

const formBodyLimit = 32 << 20

func newJournal(h *harness, file string, failBuilds int) *journal {
	return &journal{h: h, file: file, failBuilds: failBuilds}
}

func (j *journal) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := call{Time: time.Now().UTC().Format(time.RFC3339Nano), Method: r.Method, Path: r.URL.Path,
			Query: r.URL.RawQuery, Form: map[string]string{}}
		body := &countingReader{r: r.Body}
		if isForm(r) {
			raw, _ := io.ReadAll(io.LimitReader(r.Body, formBodyLimit))
			body.n = int64(len(raw))
			c.Form = formSummary(raw)
			r.Body = io.NopCloser(bytes.NewReader(raw))
		} else if r.Body != nil {
			r.Body = body
		}
		rw := &recordingWriter{ResponseWriter: w}
		if j.takeBuildFault(r) {
			// NOT Convox: a fault before its server sees the request
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusServiceUnavailable)
			_, _ = rw.Write([]byte(`{"error":"injected 503 (-fail-builds-503)"}` + "\n"))
		} else {
			next.ServeHTTP(rw, r)
		}
		c.Status, c.Bytes = rw.status(), body.n
		if c.Status >= 400 {
			c.Error = strings.TrimSpace(rw.errorBody.String())
		}
		j.mu.Lock()
		j.calls = append(j.calls, c)
		j.mu.Unlock()
		j.save()
	})
}

func isForm(r *http.Request) bool {
	ctype, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return r.Body != nil && strings.TrimSpace(ctype) == "application/x-www-form-urlencoded"
}

// formSummary: the fields sent, a manifest only by its size.
func formSummary(raw []byte) map[string]string {
	fields := map[string]string{}
	values, err := url.ParseQuery(string(raw))
	if err != nil {
		return fields
	}
	for k, v := range values {
		fields[k] = strings.Join(v, ",")
		if k == "manifest" {
			fields[k] = fmt.Sprintf("<manifest %d bytes>", len(fields[k]))
		}
	}
	return fields
}

func (j *journal) takeBuildFault(r *http.Request) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failBuilds == 0 || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/apps/") ||
		!strings.HasSuffix(r.URL.Path, "/builds") {
		return false
	}
	j.failBuilds--
	return true
}

// save writes the state file whole (a temporary file renamed over it).
func (j *journal) save() {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.h.snapshot()
	s.Calls = j.calls
	data, err := json.MarshalIndent(s, "", " ")
	if err == nil {
		tmp := j.file + ".tmp"
		if err = os.WriteFile(tmp, data, 0o600); err == nil {
			err = os.Rename(tmp, j.file)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "rack: state file: %v\n", err)
	}
}

// snapshot reads the rack's records through the provider without the overrides.
func (h *harness) snapshot() state {
	p := h.plain
	s := state{Builds: map[string]any{}, Releases: map[string]any{}, Objects: map[string]int64{},
		Promotions: h.deployer.promotions()}
	if sys, err := p.SystemGet(); err == nil {
		s.System = sys
	}
	if h.o.app != "" {
		if a, err := p.AppGet(h.o.app); err == nil {
			s.App = a
		}
	}
	ctx := context.TODO()
	nss, err := h.cluster.CoreV1().Namespaces().List(ctx, meta1.ListOptions{LabelSelector: "type=app"})
	if err != nil {
		return s
	}
	for _, ns := range nss.Items {
		app := ns.Labels["name"]
		if bs, err := h.crds.ConvoxV1().Builds(ns.Name).List(meta1.ListOptions{}); err == nil {
			for _, kb := range bs.Items {
				if b, err := p.BuildGet(app, kb.Name); err == nil {
					s.Builds[b.Id] = b
				}
			}
		}
		if rs, err := h.crds.ConvoxV1().Releases(ns.Name).List(meta1.ListOptions{}); err == nil {
			for _, kr := range rs.Items {
				if r, err := p.ReleaseGet(app, kr.Name); err == nil {
					s.Releases[r.Id] = r
				}
			}
		}
		root := filepath.Join(h.storage, "objects", app)
		_ = filepath.Walk(root, func(f string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				rel, _ := filepath.Rel(root, f)
				s.Objects[app+"/"+rel] = fi.Size()
			}
			return nil
		})
	}
	return s
}

type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// recordingWriter keeps the status and the start of an error body; it passes Flush and Hijack on
// (logs stream, the /v2/ proxy and exec upgrade).
type recordingWriter struct {
	http.ResponseWriter
	code      int
	errorBody bytes.Buffer
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if w.code >= 400 && w.errorBody.Len() < 2000 {
		w.errorBody.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

func (w *recordingWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, fmt.Errorf("the response cannot be hijacked")
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

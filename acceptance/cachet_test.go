package acceptance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxer/cachet-updater/internal/cachet"
)

// cachetAPI is the suite's own hand on Cachet's API: it creates what the
// suite needs, changes a status as a person would, reads back what the
// binary wrote, and removes it all. 2.x speaks X-Cachet-Token, 3.x a
// bearer token and JSON:API (the data's attributes are read alike).
type cachetAPI struct {
	base, token string
	v3          bool
	hc          *http.Client
}

func newCachetAPI(t *testing.T, base, token string) *cachetAPI {
	base = strings.TrimSuffix(base, "/")
	if err := cachet.CheckToken(token); err != nil {
		t.Fatalf("CU_ACCEPTANCE_CACHET_TOKEN: %v", err)
	}
	return &cachetAPI{base: base, token: token, v3: !strings.HasSuffix(base, "/api/v1"), hc: &http.Client{Timeout: 30 * time.Second}}
}

// errNotFound is a 404 from Cachet.
var errNotFound = errors.New("404 Not Found")

// do sends one request and returns the answer's data. Only a 429 is
// tried again (after Retry-After, at most a minute; a 3.x app skeleton
// allows 60 requests a minute): nothing else is sent twice.
func (c *cachetAPI) do(ctx context.Context, method, path string, body any) (json.RawMessage, error) {
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Content-Type", "application/json")
		if c.v3 {
			req.Header.Set("Authorization", "Bearer "+c.token)
		} else {
			req.Header.Set("X-Cachet-Token", c.token)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || attempt == 3 {
			return c.answer(method, path, resp)
		}
		resp.Body.Close()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %s: 429 Too Many Requests, and %w", method, path, ctx.Err())
		case <-time.After(time.Duration(min(max(wait, 1), 60)) * time.Second):
		}
	}
}

func (c *cachetAPI) answer(method, path string, resp *http.Response) (json.RawMessage, error) {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("%s %s: %w", method, path, errNotFound)
	case resp.StatusCode >= 300:
		return nil, fmt.Errorf("%s %s: %s: %.500s", method, path, resp.Status, strings.ReplaceAll(string(b), c.token, "[token]"))
	case resp.StatusCode == http.StatusNoContent:
		return nil, nil
	}
	var doc struct{ Data json.RawMessage }
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s %s: %s: not JSON: %.200s", method, path, resp.Status, b)
	}
	return doc.Data, nil
}

// attrs is a resource's fields: 2.x's object itself, 3.x's attributes.
type attrs map[string]any

func decode(raw json.RawMessage) (attrs, error) {
	var a struct {
		Attributes attrs `json:"attributes"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, err
	}
	if a.Attributes != nil {
		return a.Attributes, nil
	}
	var plain attrs
	return plain, json.Unmarshal(raw, &plain)
}

// int reads a number, a numeric string (2.3) or 3.x's {"human","value"}.
func (a attrs) int(key string) int {
	var n int
	switch v := a[key].(type) {
	case float64:
		n = int(v)
	case string:
		_, _ = fmt.Sscan(v, &n)
	case map[string]any:
		return attrs(v).int("value")
	}
	return n
}

func (c *cachetAPI) paths() (groups, componentGroupKey string) {
	if c.v3 {
		return "/component-groups", "component_group_id"
	}
	return "/components/groups", "group_id"
}

// create posts a resource and returns its id; the caller registers its
// removal at once.
func (c *cachetAPI) create(t *testing.T, path string, body map[string]any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	raw, err := c.do(ctx, http.MethodPost, path, body)
	if err != nil {
		t.Fatalf("creating %s %q: %v", path, body["name"], err)
	}
	a, err := decode(raw)
	if err != nil || a.int("id") <= 0 {
		t.Fatalf("creating %s %q: no id in Cachet's answer (%v): %.300s", path, body["name"], err, raw)
	}
	return a.int("id")
}

// removeLater deletes path when the test ends, pass or fail, within its
// own deadline (the test's context is gone by then); what it cannot
// remove it names, so a person can.
func (c *cachetAPI) removeLater(t *testing.T, path, what string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if _, err := c.do(ctx, http.MethodDelete, path, nil); err != nil && !errors.Is(err, errNotFound) {
			t.Errorf("cleanup: could not remove %s (%s): %v; remove it by hand", what, path, err)
		}
	})
}

// get reads one resource.
func (c *cachetAPI) get(t *testing.T, path string) attrs {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	raw, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	a, err := decode(raw)
	if err != nil {
		t.Fatalf("reading %s: %v: %.300s", path, err, raw)
	}
	return a
}

// list reads the first page (up to 100) of a collection; ok is false when
// Cachet has no such route (2.3's incident updates).
func (c *cachetAPI) list(t *testing.T, path string) (items []attrs, ok bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	raw, err := c.do(ctx, http.MethodGet, path+"?per_page=100", nil)
	if errors.Is(err, errNotFound) {
		return nil, false
	}
	var list []json.RawMessage
	if err == nil {
		err = json.Unmarshal(raw, &list)
	}
	if err != nil {
		t.Fatalf("listing %s: %v", path, err)
	}
	for _, r := range list {
		a, err := decode(r)
		if err != nil {
			t.Fatalf("listing %s: %v", path, err)
		}
		items = append(items, a)
	}
	return items, true
}

// status returns a component's stored status and, on 3.x, the one its
// page shows (latest_status: the worse of it and an open incident's
// impact); on 2.x both are the stored one.
func (c *cachetAPI) status(t *testing.T, id int) (stored, shown int) {
	t.Helper()
	a := c.get(t, fmt.Sprintf("/components/%d", id))
	stored, shown = a.int("status"), a.int("status")
	if _, ok := a["latest_status"]; ok {
		shown = a.int("latest_status")
	}
	return stored, shown
}

// setStatus changes a status the way a person does in the dashboard.
func (c *cachetAPI) setStatus(t *testing.T, id, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if _, err := c.do(ctx, http.MethodPut, fmt.Sprintf("/components/%d", id), map[string]any{"status": status}); err != nil {
		t.Fatalf("setting component %d to %d by hand: %v", id, status, err)
	}
}

// incidents lists the newest 100 incidents (the suite's are the newest)
// that name one of the components or whose name holds tag.
func (c *cachetAPI) incidents(ctx context.Context, tag string, components []int) ([]cachet.Incident, error) {
	q := "?sort=id&order=desc&per_page=100"
	if c.v3 {
		q = "?include=components&sort=-id&per_page=100"
	}
	raw, err := c.do(ctx, http.MethodGet, "/incidents"+q, nil)
	var all []cachet.Incident
	if err == nil {
		err = json.Unmarshal(raw, &all)
	}
	if err != nil {
		return nil, err
	}
	var ours []cachet.Incident
	for _, in := range all {
		mine := strings.Contains(in.Name, tag)
		for _, id := range components {
			mine = mine || in.Names(id)
		}
		if mine {
			ours = append(ours, in)
		}
	}
	return ours, nil
}

// removeIncidents deletes the incidents the runs opened (found by the
// suite's components or its tag), within its own deadline.
func (c *cachetAPI) removeIncidents(t *testing.T, tag string, components []int) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	list, err := c.incidents(ctx, tag, components)
	if err != nil {
		t.Errorf("cleanup: listing the suite's incidents: %v; remove those named %q by hand", err, tag)
	}
	for _, in := range list {
		if _, err := c.do(ctx, http.MethodDelete, fmt.Sprintf("/incidents/%d", in.ID), nil); err != nil {
			t.Errorf("cleanup: could not remove incident %d %q: %v; remove it by hand", in.ID, in.Name, err)
		}
	}
}

// server is one server of the local fleet; the test sets its answer.
type server struct {
	*httptest.Server
	code atomic.Int32
}

func newServer(t *testing.T) *server {
	s := &server{}
	s.code.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(int(s.code.Load()))
	}))
	t.Cleanup(s.Close)
	return s
}

// buildBinary builds cachet-updater as shipped (go build of
// ./cmd/cachet-updater) into a folder of the test's.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cachet-updater")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/proxer/cachet-updater/cmd/cachet-updater").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/cachet-updater: %v\n%s", err, out)
	}
	return bin
}

// cu runs the binary with the suite's config and token, asserts the exit
// code and that the token appears nowhere in what it printed, and returns
// stdout.
func (e *env) cu(t *testing.T, want int, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin, append(args, "--config", e.config)...)
	cmd.Dir = filepath.Dir(e.config)
	cmd.Env = append(os.Environ(), "CACHET_API_TOKEN="+e.cachet.token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	if code < 0 {
		t.Fatalf("cachet-updater %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(stdout.String()+stderr.String(), e.cachet.token) {
		t.Fatalf("cachet-updater %s printed the token", strings.Join(args, " "))
	}
	if code != want {
		t.Fatalf("cachet-updater %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, &stdout, &stderr)
	}
	return stdout.Bytes()
}

package updater

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet/cachettest"
	"github.com/proxer/cachet-updater/internal/config"
)

// runServers runs a config of the given servers (name: component id, all
// answering the probe with code) against fake, with no report source.
func runServers(t *testing.T, fake *cachettest.Server, code int, ids map[string]int) Summary {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
	t.Cleanup(srv.Close)
	var servers strings.Builder
	for name, id := range ids {
		fmt.Fprintf(&servers, "  - {name: %s, url: %s/, component_id: %d}\n", name, srv.URL, id)
	}
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "config.yaml"), []byte(fmt.Sprintf(`cachet: {url: %s, timeout: 2s, retries: 0}
probe: {timeout: 1s}
confirm: {worse: 1, better: 1}
reports: {source: {type: none}}
servers:
%s`, fake.URL(), servers.String())))
	if err != nil {
		t.Fatal(err)
	}
	return runWith(context.Background(), t, cfg, dir, Options{})
}

func rowOf(t *testing.T, sum Summary, name string) Row {
	t.Helper()
	for _, r := range sum.Rows {
		if r.Server.Name == name {
			return r
		}
	}
	t.Fatalf("no row %q", name)
	return Row{}
}

// TestListingBehindAProxy: Cachet 3.x behind a proxy that rewrites Host
// links its next pages to an origin of its own and keeps only page; the
// client asks cachet.url for that page number with its own query, so a
// listing over 100 components is whole and the run writes.
func TestListingBehindAProxy(t *testing.T) {
	fake := cachettest.NewV3(runToken, cachettest.WithLinkOrigin("http://cachet.internal:8000"))
	defer fake.Close()
	for id := 1; id <= 250; id++ {
		fake.Add(cachettest.Component{ID: id, Name: fmt.Sprintf("C%d", id), Status: 1, Enabled: id%2 == 0})
	}
	sum := runServers(t, fake, http.StatusServiceUnavailable, map[string]int{"Far": 250, "Off": 201})
	if sum.CachetErr != nil {
		t.Fatalf("listing failed: %v", sum.CachetErr)
	}
	for _, id := range []int{250, 201} {
		if c, _ := fake.Component(id); c.Status != 4 {
			t.Errorf("component %d: status %d, want 4", id, c.Status)
		}
	}
	pages := 0
	for _, r := range fake.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/components") {
			pages++
			if !strings.Contains(r.RawQuery, "per_page=100") || !strings.Contains(r.RawQuery, "include=group") {
				t.Errorf("a page without the listing's query: %s", r.RawQuery)
			}
		}
	}
	if pages != 4 { // 125 enabled, 125 disabled
		t.Errorf("%d pages read, want 4", pages)
	}
}

// TestUnreadableStatus: one component whose status Cachet sends as "abc"
// is left alone with an error naming it; the others are corrected.
func TestUnreadableStatus(t *testing.T) {
	for _, m := range []struct {
		name string
		mode cachettest.Mode
		bad  any
	}{
		{"2.4", cachettest.Cachet24, "abc"},
		{"3.x", cachettest.Cachet3, map[string]any{"human": "Operational", "value": "abc"}},
	} {
		t.Run(m.name, func(t *testing.T) {
			fake := cachettest.New(runToken, cachettest.WithMode(m.mode))
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "Bad", Status: 1, Enabled: true})
			fake.Add(cachettest.Component{ID: 2, Name: "Good", Status: 1, Enabled: true})
			fake.SetStatusValue(1, m.bad)
			sum := runServers(t, fake, http.StatusServiceUnavailable, map[string]int{"S1": 1, "S2": 2})
			if sum.CachetErr != nil {
				t.Fatalf("the listing failed: %v", sum.CachetErr)
			}
			if c, _ := fake.Component(2); c.Status != 4 {
				t.Errorf("the readable component was not corrected: %d", c.Status)
			}
			bad := rowOf(t, sum, "S1")
			if c, _ := fake.Component(1); c.Status != 1 || bad.Action != NotWritten || bad.Err != nil || !strings.Contains(strings.Join(bad.Notes, " "), `"abc"`) {
				t.Errorf("the unreadable one: status %d, row %s %v %q", c.Status, bad.Action, bad.Err, bad.Notes)
			}
			if sum.Failed() {
				t.Error("the run failed: one unreadable component is a warning")
			}
		})
	}
}

// TestMissingComponentProvesToken: Cachet serves a refused token's listing
// as a guest's, without disabled components. A mapped component missing
// from the listing makes the run prove the token at once, and the row says
// which it is: the token refused, or no such component.
func TestMissingComponentProvesToken(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			fake := cachettest.New("another-token-0123456789", cachettest.WithMode(m.mode))
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "On", Status: 1, Enabled: true})
			fake.Add(cachettest.Component{ID: 2, Name: "Off", Status: 1, Enabled: false})
			sum := runServers(t, fake, http.StatusOK, map[string]int{"S1": 1, "S2": 2})
			r := rowOf(t, sum, "S2")
			if sum.TokenErr == nil || r.Action != NotWritten || r.Err == nil || !strings.Contains(r.Err.Error(), "refused the token") {
				t.Errorf("refused token: token error %v, row %s: %v", sum.TokenErr, r.Action, r.Err)
			}
			if n := proofs(fake); n != 1 {
				t.Errorf("%d token proofs, want 1", n)
			}

			fake = cachettest.New(runToken, cachettest.WithMode(m.mode))
			defer fake.Close()
			fake.Add(cachettest.Component{ID: 1, Name: "On", Status: 1, Enabled: true})
			sum = runServers(t, fake, http.StatusOK, map[string]int{"S1": 1, "S9": 9})
			r = rowOf(t, sum, "S9")
			if sum.TokenErr != nil || r.Action != UnknownComponent || r.Err == nil || !strings.Contains(r.Err.Error(), "component 9 does not exist in Cachet (the token was accepted") {
				t.Errorf("no such component: token error %v, row %s: %v", sum.TokenErr, r.Action, r.Err)
			}
			if n := proofs(fake); n != 1 {
				t.Errorf("%d token proofs, want 1", n)
			}
		})
	}
}

// proofs counts the token proofs (GET /subscribers) fake received.
func proofs(fake *cachettest.Server) int {
	n := 0
	for _, r := range fake.Requests() {
		if strings.HasSuffix(r.Path, "/subscribers") {
			n++
		}
	}
	return n
}

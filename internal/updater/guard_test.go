package updater

import (
	"errors"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/probe"
)

func TestOffline(t *testing.T) {
	ok := probe.Result{Code: 200}
	bad := probe.Result{Class: probe.ClassRefused, Err: errors.New("connection refused")}
	cut := probe.Result{Class: probe.ClassCanceled, Err: errors.New("probe canceled")}
	all := config.Guard{MaxFailing: config.Share{Percent: 100}}
	tests := []struct {
		name     string
		results  []probe.Result
		canaries []probe.Result
		guard    config.Guard
		want     string // substring; "" for not offline
	}{
		{"every server failing", []probe.Result{bad, bad, bad}, nil, all, "3 of 3 servers got no HTTP answer"},
		{"two are too few", []probe.Result{bad, bad}, nil, all, ""},
		{"one answers", []probe.Result{bad, bad, bad, ok}, nil, all, ""},
		{"80% of 5", []probe.Result{bad, bad, bad, bad, ok}, nil, config.Guard{MaxFailing: config.Share{Percent: 80}}, "4 of 5"},
		{"interrupted probes count for neither side", []probe.Result{bad, bad, bad, cut}, nil, all, "3 of 3"},
		{"max_failing off", []probe.Result{bad, bad, bad}, nil, config.Guard{}, ""},
		{"no canary answers", []probe.Result{ok}, []probe.Result{bad, bad}, config.Guard{Canaries: []config.WebURL{"https://a.example/", "https://b.example/"}}, "none of the 2 canaries answered"},
		{"one canary answers", []probe.Result{ok}, []probe.Result{bad, ok}, config.Guard{Canaries: []config.WebURL{"https://a.example/", "https://b.example/"}}, ""},
		{"canaries interrupted", []probe.Result{ok}, []probe.Result{cut}, config.Guard{Canaries: []config.WebURL{"https://a.example/"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := offline(tt.results, tt.canaries, tt.guard)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("offline() = %q, want %q", got, tt.want)
			}
		})
	}
}

package status

import (
	"strings"
	"testing"
	"time"
)

func defaultPolicy(t *testing.T) Policy {
	t.Helper()
	codes, err := ParseCodeMap(map[string]string{"200-399": "operational"})
	if err != nil {
		t.Fatal(err)
	}
	return Policy{Codes: codes, OnTimeout: PerformanceIssues, OnError: MajorOutage, Thresholds: DefaultThresholds()}
}

func ok(code int) Observation { return Observation{Code: code, Latency: 20 * time.Millisecond} }

func reports(n int) Reports { return Reports{Count: n, Available: true} }

func TestDecideReportThresholds(t *testing.T) {
	// The original script: >10 and <20 performance issues, 20..49 partial, >=50 major.
	tests := []struct {
		count int
		want  Status
	}{
		{0, Operational}, {1, Operational}, {10, Operational},
		{11, PerformanceIssues}, {19, PerformanceIssues},
		{20, PartialOutage}, {49, PartialOutage},
		{50, MajorOutage}, {5000, MajorOutage},
	}
	p := defaultPolicy(t)
	for _, tt := range tests {
		d := Decide(ok(200), reports(tt.count), p)
		if d.Status != tt.want || d.Reports != tt.want || d.Probe != Operational {
			t.Errorf("%d reports: got %v (probe %v, reports %v), want %v", tt.count, d.Status, d.Probe, d.Reports, tt.want)
		}
	}
}

func TestDecideProbe(t *testing.T) {
	p := defaultPolicy(t)
	slow := p
	slow.Slow = time.Second
	custom := p
	var err error
	custom.Codes, err = ParseCodeMap(map[string]string{"2xx": "operational", "429": "performance_issues", "500-599": "partial_outage", "503": "major_outage"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		obs     Observation
		p       Policy
		want    Status
		ruleHas string
	}{
		{"200", ok(200), p, Operational, `"200-399"`},
		{"399 edge", ok(399), p, Operational, `"200-399"`},
		{"199 below", ok(199), p, MajorOutage, "matches no status key"},
		{"400 above", ok(400), p, MajorOutage, "matches no status key"},
		{"404", ok(404), p, MajorOutage, "HTTP 404"},
		{"503", ok(503), p, MajorOutage, "HTTP 503"},
		{"timeout", Observation{Failure: TimedOut}, p, PerformanceIssues, "on_timeout"},
		{"refused", Observation{Failure: TransportFailed, ErrorClass: "refused"}, p, MajorOutage, "refused"},
		{"error without class", Observation{Failure: TransportFailed}, p, MajorOutage, "on_error"},
		{"slow off", Observation{Code: 200, Latency: time.Hour}, p, Operational, `"200-399"`},
		{"slow at limit", Observation{Code: 200, Latency: time.Second}, slow, Operational, `"200-399"`},
		{"slow over", Observation{Code: 200, Latency: time.Second + time.Millisecond}, slow, PerformanceIssues, "slow"},
		{"slow keeps worse", Observation{Code: 500, Latency: 2 * time.Second}, slow, MajorOutage, "HTTP 500"},
		{"class", ok(204), custom, Operational, `"2xx"`},
		{"exact code", ok(429), custom, PerformanceIssues, `"429"`},
		{"range", ok(502), custom, PartialOutage, `"500-599"`},
		{"exact beats range", ok(503), custom, MajorOutage, `"503"`},
		{"unmapped in custom", ok(301), custom, MajorOutage, "no status key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.obs, reports(0), tt.p)
			if d.Status != tt.want {
				t.Fatalf("got %v, want %v (rule %q)", d.Status, tt.want, d.Rule)
			}
			if !strings.Contains(d.Rule, tt.ruleHas) {
				t.Errorf("rule %q does not mention %q", d.Rule, tt.ruleHas)
			}
		})
	}
}

func TestDecideWorseOfBoth(t *testing.T) {
	p := defaultPolicy(t)
	tests := []struct {
		name    string
		obs     Observation
		rep     Reports
		want    Status
		ruleHas string
	}{
		{"timeout with 60 reports is major", Observation{Failure: TimedOut}, reports(60), MajorOutage, "60 reports"},
		{"timeout with 5 reports stays performance", Observation{Failure: TimedOut}, reports(5), PerformanceIssues, "on_timeout"},
		{"404 with 0 reports", ok(404), reports(0), MajorOutage, "HTTP 404"},
		{"200 with 25 reports", ok(200), reports(25), PartialOutage, "25 reports ≥ 20"},
		{"equal severity keeps the probe rule", Observation{Failure: TimedOut}, reports(15), PerformanceIssues, "on_timeout"},
		{"reports unavailable are ignored", ok(200), Reports{Count: 99}, Operational, `"200-399"`},
		{"reports unavailable, probe down", Observation{Failure: TransportFailed, ErrorClass: "dns"}, Reports{}, MajorOutage, "dns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Decide(tt.obs, tt.rep, p)
			if d.Status != tt.want {
				t.Fatalf("got %v, want %v (rule %q)", d.Status, tt.want, d.Rule)
			}
			if !strings.Contains(d.Rule, tt.ruleHas) {
				t.Errorf("rule %q does not mention %q", d.Rule, tt.ruleHas)
			}
		})
	}
}

func TestDecideCustomThresholds(t *testing.T) {
	p := defaultPolicy(t)
	p.Thresholds = Thresholds{PerformanceIssues: 1, PartialOutage: 2, MajorOutage: 3}
	for n, want := range map[int]Status{0: Operational, 1: PerformanceIssues, 2: PartialOutage, 3: MajorOutage} {
		if got := Decide(ok(200), reports(n), p).Status; got != want {
			t.Errorf("%d reports: got %v, want %v", n, got, want)
		}
	}
}

// TestDecideBodyAndCertificate: a body that does not match and a
// certificate about to expire make the probe's status at least what the
// policy says; without a status for them they change nothing.
func TestDecideBodyAndCertificate(t *testing.T) {
	p := defaultPolicy(t)
	p.OnBodyMismatch, p.OnCertExpiry = MajorOutage, PerformanceIssues
	tests := []struct {
		name string
		obs  Observation
		want Status
		rule string
	}{
		{"200 with an error page", Observation{Code: 200, BodyMismatch: true}, MajorOutage, "200, body does not match expect_body → major_outage (on_body_mismatch)"},
		{"503 with an error page stays major", Observation{Code: 503, BodyMismatch: true}, MajorOutage, "HTTP 503 matches no status key"},
		{"certificate expiring", Observation{Code: 200, CertExpiring: true}, PerformanceIssues, "certificate expires within cert_expiry or is not valid yet → performance_issues (on_cert_expiry)"},
		{"both: the worse", Observation{Code: 200, BodyMismatch: true, CertExpiring: true}, MajorOutage, "on_body_mismatch"},
	}
	for _, tt := range tests {
		d := Decide(tt.obs, Reports{}, p)
		if d.Probe != tt.want || !strings.Contains(d.ProbeRule, tt.rule) {
			t.Errorf("%s: %s (%s), want %s (%s)", tt.name, d.Probe, d.ProbeRule, tt.want, tt.rule)
		}
	}
	p.OnCertExpiry = Unknown // cert_expiry as a warning only
	if d := Decide(Observation{Code: 200, CertExpiring: true}, Reports{}, p); d.Probe != Operational {
		t.Errorf("a warning-only expiry changed the status: %+v", d)
	}
}

// BenchmarkDecide decides 10,000 servers, as a large run does.
func BenchmarkDecide(b *testing.B) {
	codes, err := ParseCodeMap(map[string]string{"2xx": "operational", "429": "performance_issues", "500-599": "partial_outage", "503": "major_outage"})
	if err != nil {
		b.Fatal(err)
	}
	p := Policy{Codes: codes, OnTimeout: PerformanceIssues, OnError: MajorOutage, Slow: time.Second, Thresholds: DefaultThresholds()}
	obs := []Observation{
		{Code: 200, Latency: 30 * time.Millisecond},
		{Code: 503},
		{Failure: TimedOut},
		{Failure: TransportFailed, ErrorClass: "refused"},
		{Code: 200, Latency: 2 * time.Second},
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range 10000 {
			Decide(obs[i%len(obs)], Reports{Count: i % 60, Available: true}, p)
		}
	}
}

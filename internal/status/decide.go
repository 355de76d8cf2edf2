package status

import (
	"fmt"
	"time"
)

// Failure says how a probe failed to get an HTTP answer.
type Failure int

// Probe failures.
const (
	NoFailure       Failure = iota // an HTTP answer arrived
	TimedOut                       // the deadline passed first
	TransportFailed                // any other failure to get an answer: refused, reset, DNS, TLS, ...
)

// Observation is what the probe saw, reduced to what the rule needs.
type Observation struct {
	Code       int           // final HTTP status code; 0 when Failure != NoFailure
	Latency    time.Duration // time to the answer (or to the failure)
	Failure    Failure
	ErrorClass string // refused, reset, dns, tls, redirects, ... when Failure == TransportFailed
	// BodyMismatch: an answer came, but its body did not match expect_body.
	BodyMismatch bool
	// CertExpiring: a certificate of the server expires within cert_expiry or is not valid yet.
	CertExpiring bool
}

// Thresholds are the report counts at which a status starts (inclusive).
type Thresholds struct {
	PerformanceIssues int
	PartialOutage     int
	MajorOutage       int
}

// DefaultThresholds reproduce the original script: 10 reports are fine, 11
// are performance issues, 20 a partial and 50 a major outage.
func DefaultThresholds() Thresholds {
	return Thresholds{PerformanceIssues: 11, PartialOutage: 20, MajorOutage: 50}
}

// Policy is everything the rule needs to know about one server.
type Policy struct {
	Codes     CodeMap
	OnTimeout Status
	OnError   Status
	Slow      time.Duration // 0: off
	// OnBodyMismatch is at least the status of an answer whose body did
	// not match; OnCertExpiry that of a certificate about to expire
	// (Unknown: the expiry is only a warning).
	OnBodyMismatch Status
	OnCertExpiry   Status
	Thresholds     Thresholds
}

// Reports is the report count for a server, or the fact that none could be
// read (then reports do not influence the decision).
type Reports struct {
	Count     int
	Available bool
}

// Decision is the outcome of Decide, with the reason in words.
type Decision struct {
	Status      Status // the worse of Probe and Reports
	Probe       Status // from the probe alone
	Reports     Status // from the reports alone (Operational when unavailable)
	Rule        string // the rule that decided Status
	ProbeRule   string
	ReportsRule string
}

// Decide returns the worse of what the probe and the reports say. It is pure.
func Decide(obs Observation, rep Reports, p Policy) Decision {
	probe, probeRule := probeStatus(obs, p)
	reports, reportsRule := reportStatus(rep, p.Thresholds)
	return Combine(probe, probeRule, reports, reportsRule)
}

// Combine is the decision of a probe-based and a report-based status: the
// worse of both; on a tie the probe's rule is the one named.
func Combine(probe Status, probeRule string, reports Status, reportsRule string) Decision {
	d := Decision{Probe: probe, ProbeRule: probeRule, Reports: reports, ReportsRule: reportsRule}
	d.Status, d.Rule = d.Probe, d.ProbeRule
	if d.Reports > d.Probe {
		d.Status, d.Rule = d.Reports, d.ReportsRule
	}
	return d
}

func probeStatus(obs Observation, p Policy) (Status, string) {
	switch obs.Failure {
	case TimedOut:
		return p.OnTimeout, fmt.Sprintf("probe timed out → %s (on_timeout)", p.OnTimeout)
	case TransportFailed:
		class := obs.ErrorClass
		if class == "" {
			class = "error"
		}
		return p.OnError, fmt.Sprintf("probe failed (%s) → %s (on_error)", class, p.OnError)
	}
	st, rule := MajorOutage, fmt.Sprintf("HTTP %d matches no status key → %s", obs.Code, MajorOutage)
	if r, ok := p.Codes.Lookup(obs.Code); ok {
		st, rule = r.Status, fmt.Sprintf("HTTP %d matches %q → %s", obs.Code, r.Key, r.Status)
	}
	if p.Slow > 0 && obs.Latency > p.Slow && st < PerformanceIssues {
		st, rule = PerformanceIssues, fmt.Sprintf("HTTP %d in %s, slower than %s → %s (slow)", obs.Code, obs.Latency.Round(time.Millisecond), p.Slow, PerformanceIssues)
	}
	if obs.BodyMismatch && p.OnBodyMismatch > st {
		st, rule = p.OnBodyMismatch, fmt.Sprintf("HTTP %d, body does not match expect_body → %s (on_body_mismatch)", obs.Code, p.OnBodyMismatch)
	}
	if obs.CertExpiring && p.OnCertExpiry > st {
		st, rule = p.OnCertExpiry, fmt.Sprintf("HTTP %d, certificate expires within cert_expiry or is not valid yet → %s (on_cert_expiry)", obs.Code, p.OnCertExpiry)
	}
	return st, rule
}

func reportStatus(rep Reports, t Thresholds) (Status, string) {
	if !rep.Available {
		return Operational, "reports unavailable, ignored"
	}
	switch {
	case rep.Count >= t.MajorOutage:
		return MajorOutage, fmt.Sprintf("%d reports ≥ %d → %s", rep.Count, t.MajorOutage, MajorOutage)
	case rep.Count >= t.PartialOutage:
		return PartialOutage, fmt.Sprintf("%d reports ≥ %d → %s", rep.Count, t.PartialOutage, PartialOutage)
	case rep.Count >= t.PerformanceIssues:
		return PerformanceIssues, fmt.Sprintf("%d reports ≥ %d → %s", rep.Count, t.PerformanceIssues, PerformanceIssues)
	}
	return Operational, fmt.Sprintf("%d reports < %d → %s", rep.Count, t.PerformanceIssues, Operational)
}

package cli

import (
	"encoding/json"
	"io"
	"time"

	"github.com/proxer/cachet-updater/internal/probe"
	"github.com/proxer/cachet-updater/internal/updater"
)

// JSONVersion is the version of the JSON documents --output json prints; a
// change that a reader would misread bumps it.
const JSONVersion = 1

// RunJSON is what `run --output json` prints: one document with every row
// and the summary. Secrets never appear in it: URLs carry no password and
// errors have been scrubbed where they were made.
type RunJSON struct {
	Version     int         `json:"version"`
	DryRun      bool        `json:"dry_run"`
	Started     time.Time   `json:"started"`
	DurationMS  int64       `json:"duration_ms"`
	Summary     SummaryJSON `json:"summary"`
	Reports     SourceJSON  `json:"reports"`
	State       SourceJSON  `json:"state"`
	CachetError *string     `json:"cachet_error"`
	TokenError  *string     `json:"token_error"`
	Interrupted *string     `json:"interrupted"`
	// NotRun says why the run did nothing: another run held the lock (exit
	// 3), or it could not start (exit 2: flags, config, token, lock_file).
	NotRun   *string   `json:"not_run"`
	Offline  *string   `json:"offline"`         // why this machine looked offline (the guard)
	Deferred *string   `json:"deferred"`        // shared state: why another vantage's run decides this round
	Notes    []string  `json:"notes,omitempty"` // what the run says once: Cachet schedules that cover nothing or have no end
	Rows     []RowJSON `json:"rows"`
}

// SummaryJSON counts the rows by action, and Cachet's requests.
type SummaryJSON struct {
	Servers           int   `json:"servers"`
	Changed           int   `json:"changed"`
	Written           int   `json:"written"`
	WriteFailed       int   `json:"write_failed"`
	Unchanged         int   `json:"unchanged"`
	Pending           int   `json:"pending"`
	Held              int   `json:"held"`
	UnknownComponents int   `json:"unknown_components"`
	NotWritten        int   `json:"not_written"`
	NotProbed         int   `json:"not_probed"`
	Interrupted       int   `json:"interrupted"`
	Maintenance       int   `json:"maintenance"`
	Observed          int   `json:"observed"` // shared state: left to another vantage's run
	CachetReads       int64 `json:"cachet_reads"`
	CachetWrites      int64 `json:"cachet_writes"`
	Failed            bool  `json:"failed"` // the run exits 1, 2 (could not start) or 4 (interrupted)
}

// SourceJSON names where something came from and whether it failed.
type SourceJSON struct {
	Name  string  `json:"name"`
	Error *string `json:"error"`
}

// RowJSON is one server.
type RowJSON struct {
	Server        string        `json:"server"`
	ComponentID   int           `json:"component_id"`
	ComponentName string        `json:"component_name,omitempty"`
	URL           string        `json:"url"` // a password shows as xxxxx
	Probe         ProbeJSON     `json:"probe"`
	Reports       *int          `json:"reports"`           // null: unavailable
	Decision      *DecisionJSON `json:"decision"`          // null: the server was not decided (interrupted, not probed)
	Current       string        `json:"current,omitempty"` // Cachet's status before the run; "" when unknown
	Publish       string        `json:"publish,omitempty"` // what the page shows after the run
	Pending       *PendingJSON  `json:"pending"`
	Held          *HeldJSON     `json:"held"`
	Guarded       bool          `json:"guarded"`
	Maintenance   string        `json:"maintenance,omitempty"` // why the component is under maintenance
	Action        string        `json:"action"`
	Error         *string       `json:"error"`
	// Notes say what the run did beyond the status (incidents, metric
	// points); Problems what failed of it.
	Notes    []string `json:"notes,omitempty"`
	Problems []string `json:"problems,omitempty"`
	// Views are each vantage's latest observation (shared state only).
	Views []ViewJSON `json:"views,omitempty"`
}

// ViewJSON is one vantage's view of a server.
type ViewJSON struct {
	Vantage string    `json:"vantage"`
	At      time.Time `json:"at"`
	Status  string    `json:"status"`
	Outcome string    `json:"outcome"`
	Detail  string    `json:"detail"`
}

// ProbeJSON is what the probe saw.
type ProbeJSON struct {
	Code      int     `json:"code,omitempty"` // 0 when no HTTP answer came
	LatencyMS float64 `json:"latency_ms"`
	Class     string  `json:"class,omitempty"` // "" when an answer came: timeout, refused, reset, dns, tls, redirects, local, error
	Error     string  `json:"error,omitempty"`
	Bytes     int64   `json:"bytes"`
	FinalURL  string  `json:"final_url,omitempty"`
	// BodyMismatch: the answer's body did not match expect_body (BodyNote
	// says so, with the reason when it could not be checked).
	BodyMismatch  bool       `json:"body_mismatch,omitempty"`
	BodyNote      string     `json:"body_note,omitempty"`
	CertExpiry    *time.Time `json:"cert_expiry,omitempty"`     // https only: the first expiry of the leaf certificates (the final hop's, the configured URL's)
	CertNotBefore *time.Time `json:"cert_not_before,omitempty"` // when the last of them becomes valid
	CertExpiring  bool       `json:"cert_expiring,omitempty"`   // one expires within cert_expiry, or is not valid yet
}

// DecisionJSON is the decision and the rules behind it.
type DecisionJSON struct {
	Status      string `json:"status"`
	Probe       string `json:"probe"`
	Reports     string `json:"reports"`
	Rule        string `json:"rule"`
	ProbeRule   string `json:"probe_rule"`
	ReportsRule string `json:"reports_rule"`
}

// PendingJSON is a change waiting for confirmation.
type PendingJSON struct {
	Status string `json:"status"`
	Count  int    `json:"count"`
	Need   int    `json:"need"`
}

// HeldJSON is a hand-set status left alone.
type HeldJSON struct {
	Status string    `json:"status"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
}

func errString(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// runJSON builds the document for s.
func runJSON(s updater.Summary) RunJSON {
	doc := RunJSON{
		Version:     JSONVersion,
		DryRun:      s.DryRun,
		Started:     s.Started.UTC(),
		DurationMS:  s.Duration.Milliseconds(),
		Reports:     SourceJSON{Name: s.Source, Error: errString(s.SourceErr)},
		State:       SourceJSON{Name: s.State, Error: errString(s.StateErr)},
		CachetError: errString(s.CachetErr),
		TokenError:  errString(s.TokenErr),
		Interrupted: errString(s.Interrupted),
		Offline:     strPtr(s.Offline),
		Deferred:    strPtr(s.Deferred),
		Notes:       s.Notes,
		Rows:        make([]RowJSON, 0, len(s.Rows)),
		Summary: SummaryJSON{
			Servers:           len(s.Rows),
			Changed:           s.Count(updater.Updated) + s.Count(updater.WouldUpdate) + s.Count(updater.WriteFailed),
			Written:           s.Count(updater.Updated),
			WriteFailed:       s.Count(updater.WriteFailed),
			Unchanged:         s.Count(updater.Unchanged),
			Pending:           s.Count(updater.Pending),
			Held:              s.Count(updater.Held),
			UnknownComponents: s.Count(updater.UnknownComponent),
			NotWritten:        s.Count(updater.NotWritten),
			NotProbed:         s.Count(updater.NotProbed),
			Interrupted:       s.Count(updater.Interrupted),
			Maintenance:       s.Count(updater.Maintenance),
			Observed:          s.Count(updater.Observed),
			CachetReads:       s.Reads,
			CachetWrites:      s.Writes,
			Failed:            s.Failed(),
		},
	}
	for _, r := range s.Rows {
		doc.Rows = append(doc.Rows, rowJSON(r))
	}
	return doc
}

func rowJSON(r updater.Row) RowJSON {
	row := RowJSON{
		Server:        r.Server.Name,
		ComponentID:   r.Server.ComponentID,
		ComponentName: r.ComponentName,
		URL:           r.Server.DisplayURL(),
		Probe:         probeJSON(r.Probe, r.CertExpiring),
		Guarded:       r.Guarded,
		Action:        string(r.Action),
		Error:         errString(r.Err),
		Maintenance:   r.MaintenanceWhy,
		Notes:         r.Notes,
	}
	for _, p := range r.Problems {
		row.Problems = append(row.Problems, p.Error())
	}
	for _, v := range r.Views {
		row.Views = append(row.Views, ViewJSON{Vantage: v.Vantage, At: v.At.UTC(), Status: v.Status.String(), Outcome: v.Outcome, Detail: v.Detail})
	}
	if r.Reports.Available {
		n := r.Reports.Count
		row.Reports = &n
	}
	if r.Decided() {
		d := r.Decision
		row.Decision = &DecisionJSON{Status: d.Status.String(), Probe: d.Probe.String(), Reports: d.Reports.String(),
			Rule: r.Rule(), ProbeRule: d.ProbeRule, ReportsRule: d.ReportsRule}
	}
	if r.CurrentKnown {
		row.Current, row.Publish = r.Current.String(), r.Publish.String()
	}
	if r.Action == updater.Pending {
		row.Pending = &PendingJSON{Status: r.Confirm.Pending.String(), Count: r.Confirm.Count, Need: r.Confirm.Need}
	}
	if r.Action == updater.Held {
		row.Held = &HeldJSON{Status: r.Hold.Status.String(), Since: r.Hold.Since.UTC(), Until: r.HoldUntil.UTC()}
	}
	return row
}

func probeJSON(p probe.Result, certExpiring bool) ProbeJSON {
	j := ProbeJSON{Code: p.Code, LatencyMS: float64(p.Latency.Microseconds()) / 1000, Class: string(p.Class), Bytes: p.Bytes, FinalURL: p.FinalURL,
		BodyMismatch: p.BodyMismatch, BodyNote: p.BodyNote(), CertExpiring: certExpiring}
	if !p.CertExpiry.IsZero() {
		expiry, notBefore := p.CertExpiry.UTC(), p.CertNotBefore.UTC()
		j.CertExpiry, j.CertNotBefore = &expiry, &notBefore
	}
	if p.Err != nil {
		j.Error = p.Err.Error()
	}
	return j
}

// writeJSON prints v indented, with a final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

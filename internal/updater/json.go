package updater

import (
	"bytes"
	"encoding/json"
)

// JSONVersion is the version of the documents --output json prints; a
// change that a reader would misread bumps it.
const JSONVersion = 1

// Marshal encodes v as indented JSON with a final newline, leaving <, >
// and & as they are.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return b.Bytes(), err
}

type object map[string]any

// orNull is an error's message or a text, or nil (JSON null) for none.
func orNull(v any) any {
	if err, ok := v.(error); ok {
		return err.Error()
	} else if v == "" {
		return nil
	}
	return v
}

// set adds key when ok: the document leaves out what does not apply.
func (o object) set(key string, v any, ok bool) object {
	if ok {
		o[key] = v
	}
	return o
}

// MarshalJSON writes the document run --output json prints. Secrets never
// appear in it: URLs carry no password, errors were scrubbed where made.
func (s Summary) MarshalJSON() ([]byte, error) {
	counts := object{"servers": len(s.Rows), "changed": s.Changed(), "cachet_reads": s.Reads, "cachet_writes": s.Writes, "failed": s.Failed()}
	for key, a := range map[string]Action{"written": Updated, "write_failed": WriteFailed, "unchanged": Unchanged, "pending": Pending,
		"held": Held, "unknown_components": UnknownComponent, "not_written": NotWritten, "not_probed": NotProbed,
		"interrupted": Interrupted, "maintenance": Maintenance, "observed": Observed} {
		counts[key] = s.Count(a)
	}
	doc := object{"version": JSONVersion, "dry_run": s.DryRun, "started": s.Started.UTC(), "duration_ms": s.Duration.Milliseconds(),
		"summary": counts, "reports": object{"name": s.Source, "error": orNull(s.SourceErr)}, "state": object{"name": s.State, "error": orNull(s.StateErr)},
		"cachet_error": orNull(s.CachetErr), "token_error": orNull(s.TokenErr), "interrupted": orNull(s.Interrupted), "rows": []Row{},
		"not_run": orNull(s.NotRun), "offline": orNull(s.Offline), "deferred": orNull(s.Deferred)}
	return Marshal(doc.set("notes", s.Notes, len(s.Notes) > 0).set("rows", s.Rows, s.Rows != nil))
}

// MarshalJSON writes one row of the run document.
func (r Row) MarshalJSON() ([]byte, error) {
	p := r.Probe
	probe := object{"latency_ms": float64(p.Latency.Microseconds()) / 1000, "bytes": p.Bytes}.
		set("code", p.Code, p.Code != 0).set("class", p.Class, p.Class != "").set("error", orNull(p.Err), p.Err != nil).
		set("final_url", p.FinalURL, p.FinalURL != "").set("body_mismatch", true, p.BodyMismatch).set("body_note", p.BodyNote(), p.BodyMismatch).
		set("cert_expiry", p.CertExpiry.UTC(), !p.CertExpiry.IsZero()).set("cert_not_before", p.CertNotBefore.UTC(), !p.CertExpiry.IsZero()).
		set("cert_expiring", true, r.CertExpiring)
	row := object{"server": r.Server.Name, "component_id": r.Server.ComponentID, "url": r.Server.DisplayURL(), "probe": probe,
		"reports": r.Reports, "decision": nil, "pending": nil, "held": nil, "guarded": r.Guarded, "action": r.Action, "error": orNull(r.Err)}
	if d := r.Decision; d != nil {
		row["decision"] = object{"status": d.Status.String(), "probe": d.Probe.String(), "reports": d.Reports.String(),
			"rule": d.Rule, "probe_rule": d.ProbeRule, "reports_rule": d.ReportsRule}
	}
	if c := r.Component; c != nil {
		row.set("component_name", c.Name, c.Name != "")
		row["current"], row["publish"] = r.Current.String(), r.Publish.String()
	}
	if r.Action == Pending {
		row["pending"] = object{"status": r.Pending.Status.String(), "count": r.Pending.Count, "need": r.Pending.Need}
	}
	if r.Action == Held {
		row["held"] = object{"status": r.Hold.Status.String(), "since": r.Hold.Since.UTC(), "until": r.HoldUntil.UTC()}
	}
	var problems []string
	for _, e := range r.Problems {
		problems = append(problems, e.Error())
	}
	var views []object
	for _, v := range r.Views {
		views = append(views, object{"vantage": v.Vantage, "at": v.At.UTC(), "status": v.Status.String(), "outcome": v.Outcome, "detail": v.Detail})
	}
	return Marshal(row.set("maintenance", r.Maintenance, r.Maintenance != "").set("notes", r.Notes, len(r.Notes) > 0).
		set("problems", problems, len(problems) > 0).set("views", views, len(views) > 0))
}

package state

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/proxer/cachet-updater/internal/foreign"
	"github.com/proxer/cachet-updater/internal/quorum"
	"github.com/proxer/cachet-updater/internal/status"
)

// Observation is what one vantage's probe of one server saw.
type Observation struct {
	ComponentID int
	Server      string
	At          time.Time
	Outcome     string        // quorum.Answered, quorum.TimedOut or quorum.Failed
	Status      status.Status // the status from the probe alone, 1–4
	Detail      string        // for people: "HTTP 200 in 12ms", "timeout after 10s"
}

// View is one vantage's latest observation of a server, as Views returns it.
type View = quorum.View

// VantageInfo describes one vantage for the vantages command.
type VantageInfo struct {
	Name       string
	Last       time.Time // its newest observation
	Components int       // how many components it has observations of
}

// maxDetail caps a detail in bytes: it is for people, one line, and no
// more of it is shown.
const maxDetail = foreign.Max

var outcomePattern = regexp.MustCompile(`^[a-z][a-z_]{0,15}$`)

// Observe records vantage's observations, replacing its earlier ones of the
// same components, in one transaction. It does not need the decision lock:
// every vantage records its own rows.
func (s *SQL) Observe(ctx context.Context, vantage string, obs []Observation) error {
	if err := CheckVantage(vantage); err != nil {
		return fmt.Errorf("recording observations in %s: %w", s, err)
	}
	rows := make([][]any, 0, len(obs))
	// One row per component: an upsert may not touch a row twice.
	at := make(map[int]int, len(obs))
	for _, o := range obs {
		if err := checkObservation(o); err != nil {
			return fmt.Errorf("recording observations in %s: component %d (%s): %w (nothing recorded)", s, o.ComponentID, o.Server, err)
		}
		row := []any{vantage, o.ComponentID, o.Server, s.timeArg(o.At), o.Outcome, int(o.Status), truncate(o.Detail, maxDetail)}
		if i, dup := at[o.ComponentID]; dup {
			rows[i] = row
			continue
		}
		at[o.ComponentID] = len(rows)
		rows = append(rows, row)
	}
	cols := []string{"vantage", "component_id", "server", "observed_at", "outcome", "status", "detail"}
	cctx, cancel := s.call(ctx)
	defer cancel()
	err := s.inTx(cctx, nil, func(tx *sql.Tx) error {
		return s.insertRows(cctx, tx, s.table("observations"), cols, rows, s.upsert([]string{"vantage", "component_id"}, cols[2:]))
	})
	if err != nil {
		return s.fail("recording observations in", ctx, cctx, err)
	}
	return nil
}

func checkObservation(o Observation) error {
	switch {
	case o.ComponentID < 1:
		return fmt.Errorf("component id %d: ids are positive", o.ComponentID)
	case o.Status < status.Operational || o.Status > status.MajorOutage:
		return fmt.Errorf("status %d is not 1-4", int(o.Status))
	case o.At.IsZero():
		return fmt.Errorf("no time")
	case !outcomePattern.MatchString(o.Outcome):
		return fmt.Errorf("outcome %q is not a short lower-case word such as %s", o.Outcome, quorum.Answered)
	}
	return nil
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// upsert is the clause that turns an INSERT into an insert-or-replace of
// the row with the same key.
func (s *SQL) upsert(key, cols []string) string {
	set := make([]string, len(cols))
	for i, c := range cols {
		if s.driver == DriverMySQL {
			set[i] = c + " = VALUES(" + c + ")"
		} else {
			set[i] = c + " = excluded." + c
		}
	}
	if s.driver == DriverMySQL {
		return " ON DUPLICATE KEY UPDATE " + strings.Join(set, ", ")
	}
	return " ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
}

// viewChunk is how many component ids one query asks for.
const viewChunk = 500

// Views returns every vantage's latest observation of each of the
// components, by component id, ordered by vantage. Components no vantage
// observed are absent. Freshness is the caller's rule (quorum.Decide).
func (s *SQL) Views(ctx context.Context, ids []int) (map[int][]View, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	views := make(map[int][]View, len(ids))
	for start := 0; start < len(ids); start += viewChunk {
		chunk := ids[start:min(start+viewChunk, len(ids))]
		if err := s.views(cctx, chunk, views); err != nil {
			return nil, s.fail("reading observations from", ctx, cctx, err)
		}
	}
	return views, nil
}

func (s *SQL) views(ctx context.Context, ids []int, into map[int][]View) error {
	table := s.table("observations")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT component_id, vantage, observed_at, status, outcome, detail FROM `+table+
		` WHERE component_id IN (`+placeholders(len(ids))+`) ORDER BY component_id, vantage`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, st int64
		var v View
		var at dbTimeScan
		if err := rows.Scan(&id, &v.Vantage, &at, &st, &v.Outcome, &v.Detail); err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
		v.At, v.Status = at.t, status.Status(st)
		// Any program may write these rows: their texts are foreign.
		v.Vantage, v.Outcome, v.Detail = foreign.Text(v.Vantage), foreign.Text(v.Outcome), foreign.Text(v.Detail)
		into[int(id)] = append(into[int(id)], v)
	}
	return rows.Err()
}

// Vantages lists the vantages that recorded observations, by name, with
// their newest observation and how many components they observed.
func (s *SQL) Vantages(ctx context.Context) ([]VantageInfo, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	out, err := s.vantages(cctx)
	if err != nil {
		return nil, s.fail("listing the vantages in", ctx, cctx, err)
	}
	return out, nil
}

func (s *SQL) vantages(ctx context.Context) ([]VantageInfo, error) {
	table := s.table("observations")
	rows, err := s.db.QueryContext(ctx, `SELECT vantage, MAX(observed_at), COUNT(*) FROM `+table+` GROUP BY vantage ORDER BY vantage`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []VantageInfo
	for rows.Next() {
		var v VantageInfo
		var last dbTimeScan
		if err := rows.Scan(&v.Name, &last, &v.Components); err != nil {
			return nil, fmt.Errorf("table %s: %w", table, err)
		}
		v.Name, v.Last = foreign.Text(v.Name), last.t
		out = append(out, v)
	}
	return out, rows.Err()
}

// ForgetVantage deletes the observations of a vantage that was retired, and
// returns how many there were.
func (s *SQL) ForgetVantage(ctx context.Context, vantage string) (int, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	res, err := s.db.ExecContext(cctx, s.q(`DELETE FROM `+s.table("observations")+` WHERE vantage = ?`), vantage)
	if err != nil {
		return 0, s.fail("forgetting vantage "+vantage+" in", ctx, cctx, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("forgetting vantage "+vantage+" in", ctx, cctx, err)
	}
	return int(n), nil
}

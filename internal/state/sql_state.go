package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/proxer/cachet-updater/internal/status"
)

// Meta names.
const (
	metaTokenProvedAt = "token_proved_at"
	metaSavedAt       = "saved_at"
	metaSavedBy       = "saved_by"
)

// Load reads the state in one read-only transaction, so it never sees half
// of a Save. An empty database (after Migrate) is the first run: an empty
// state. A row that is not valid (a person edited it) is an error naming
// it, with a nil state: the caller must not Save over it.
func (s *SQL) Load(ctx context.Context) (*State, error) {
	cctx, cancel := s.call(ctx)
	defer cancel()
	var st *State
	err := s.inTx(cctx, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}, func(tx *sql.Tx) error {
		var err error
		st, err = s.load(cctx, tx)
		return err
	})
	if err != nil {
		return nil, s.fail("loading", ctx, cctx, err)
	}
	return st, nil
}

func (s *SQL) load(ctx context.Context, tx *sql.Tx) (*State, error) {
	st := &State{Components: make(map[int]*Component)}
	if err := s.loadComponents(ctx, tx, st); err != nil {
		return nil, err
	}
	if err := s.loadDecisions(ctx, tx, st); err != nil {
		return nil, err
	}
	var proved string
	err := tx.QueryRowContext(ctx, s.q(`SELECT value FROM `+s.table("meta")+` WHERE name = ?`), metaTokenProvedAt).Scan(&proved)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		t, perr := time.Parse(time.RFC3339Nano, proved)
		if perr != nil {
			return nil, fmt.Errorf("table %s, name %s: value %q is not a time like 2026-11-25T06:35:02.000000Z; fix or delete that row", s.table("meta"), metaTokenProvedAt, proved)
		}
		st.TokenProvedAt = t.UTC()
	}
	for _, c := range st.Components {
		c.trim(MaxHistory)
	}
	if err := validate(st); err != nil {
		return nil, fmt.Errorf("tables %s and %s: %w; fix or delete that row", s.table("components"), s.table("decisions"), err)
	}
	return st, nil
}

func (s *SQL) loadComponents(ctx context.Context, tx *sql.Tx, st *State) error {
	table := s.table("components")
	rows, err := tx.QueryContext(ctx, `SELECT component_id, server, last_status, last_at, hold_status, hold_since, incident_id, incident_status FROM `+table)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, last          int64
			server            string
			lastAt, holdSince dbTimeScan
			hold              sql.NullInt64
			incident, incStat sql.NullInt64
		)
		if err := rows.Scan(&id, &server, &last, &lastAt, &hold, &holdSince, &incident, &incStat); err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
		c := &Component{Server: server, Last: status.Status(last), LastAt: lastAt.t}
		if hold.Valid {
			c.Hold = &Hold{Since: holdSince.t, Status: status.Status(hold.Int64)}
		}
		if incident.Valid {
			c.Incident = &Incident{ID: int(incident.Int64), Status: status.Status(incStat.Int64)}
		}
		st.Components[int(id)] = c
	}
	return rows.Err()
}

func (s *SQL) loadDecisions(ctx context.Context, tx *sql.Tx, st *State) error {
	table := s.table("decisions")
	rows, err := tx.QueryContext(ctx, `SELECT component_id, decided_at, status FROM `+table+` ORDER BY component_id, seq`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, st64 int64
		var at dbTimeScan
		if err := rows.Scan(&id, &at, &st64); err != nil {
			return fmt.Errorf("table %s: %w", table, err)
		}
		c := st.Components[int(id)]
		if c == nil {
			return fmt.Errorf("table %s: decisions for component_id %d, which is not in %s; delete them", table, id, s.table("components"))
		}
		c.History = append(c.History, Decision{At: at.t, Status: status.Status(st64)})
	}
	return rows.Err()
}

// Save replaces the saved state with st in one transaction: when anything
// fails (the database goes away, the timeout passes) the previous state is
// left whole, unless the commit was sent and got no answer: then the error
// wraps ErrInDoubt and says the state may have been saved.
func (s *SQL) Save(ctx context.Context, st *State) error {
	if st == nil {
		return fmt.Errorf("saving %s: no state", s)
	}
	if err := validate(st); err != nil {
		return fmt.Errorf("saving %s: %w (not written)", s, err)
	}
	comps, decisions := s.stateRows(st)
	cctx, cancel := s.call(ctx)
	defer cancel()
	err := s.inTx(cctx, nil, func(tx *sql.Tx) error {
		for _, t := range []string{"decisions", "components"} {
			if _, err := tx.ExecContext(cctx, `DELETE FROM `+s.table(t)); err != nil {
				return fmt.Errorf("clearing %s: %w", s.table(t), err)
			}
		}
		if err := s.insertRows(cctx, tx, s.table("components"),
			[]string{"component_id", "server", "last_status", "last_at", "hold_status", "hold_since", "incident_id", "incident_status"}, comps, ""); err != nil {
			return err
		}
		if err := s.insertRows(cctx, tx, s.table("decisions"),
			[]string{"component_id", "seq", "decided_at", "status"}, decisions, ""); err != nil {
			return err
		}
		return s.saveMeta(cctx, tx, st)
	})
	if err != nil {
		err = s.fail("saving", ctx, cctx, err)
		outcome := " (the previous state is unchanged)"
		if errors.Is(err, ErrInDoubt) {
			outcome = "; the next run reads whichever it is"
		}
		return &sqlError{msg: err.Error() + outcome, kinds: []error{err}}
	}
	return nil
}

// stateRows returns the rows of the components and decisions tables, by
// component id.
func (s *SQL) stateRows(st *State) (comps, decisions [][]any) {
	ids := make([]int, 0, len(st.Components))
	for id := range st.Components {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	comps = make([][]any, 0, len(ids))
	for _, id := range ids {
		c := st.Components[id]
		var holdStatus, holdSince, incident, incStat any
		if c.Hold != nil {
			holdStatus, holdSince = int(c.Hold.Status), s.timeArg(c.Hold.Since)
		}
		if c.Incident != nil {
			incident, incStat = c.Incident.ID, int(c.Incident.Status)
		}
		comps = append(comps, []any{id, c.Server, int(c.Last), s.timeArg(c.LastAt), holdStatus, holdSince, incident, incStat})
		for i, d := range c.History {
			decisions = append(decisions, []any{id, i + 1, s.timeArg(d.At), int(d.Status)})
		}
	}
	return comps, decisions
}

func (s *SQL) saveMeta(ctx context.Context, tx execer, st *State) error {
	table := s.table("meta")
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM `+table+` WHERE name IN (?, ?, ?)`), metaTokenProvedAt, metaSavedAt, metaSavedBy); err != nil {
		return fmt.Errorf("clearing %s: %w", table, err)
	}
	rows := [][]any{{metaSavedAt, dbTime(time.Now()).Format(metaTimeLayout)}}
	if !st.TokenProvedAt.IsZero() {
		rows = append(rows, []any{metaTokenProvedAt, dbTime(st.TokenProvedAt).Format(metaTimeLayout)})
	}
	if s.vantage != "" {
		rows = append(rows, []any{metaSavedBy, s.vantage})
	}
	return s.insertRows(ctx, tx, table, []string{"name", "value"}, rows, "")
}

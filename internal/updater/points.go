package updater

import (
	"context"
	"fmt"
	"time"
)

// points posts each server's metric points: the probe's latency in
// milliseconds to metric_id after an HTTP answer (nothing on a timeout or
// an error: the component's status covers those), and the report count to
// reports_metric_id when the source answered. At most write_concurrency at
// a time; a failed point is a problem of the row, never a reason to undo
// anything.
func points(ctx context.Context, d Deps, n int, rows []Row, dryRun bool, at time.Time) {
	each(ctx, n, rows, func(r *Row) {
		if ctx.Err() != nil || !r.Decided() {
			return
		}
		if id := r.Server.MetricID; id > 0 && r.Probe.Class == "" {
			point(ctx, d, r, id, float64(r.Probe.Latency.Microseconds())/1000, "latency (ms)", dryRun, at)
		}
		if id := r.Server.ReportsMetricID; id > 0 && r.Reports.Available {
			point(ctx, d, r, id, float64(r.Reports.Count), "report count", dryRun, at)
		}
	})
}

func point(ctx context.Context, d Deps, r *Row, metricID int, value float64, what string, dryRun bool, at time.Time) {
	if dryRun {
		r.Notes = append(r.Notes, fmt.Sprintf("would post %s %g to metric %d", what, value, metricID))
		return
	}
	if err := d.Cachet.AddMetricPoint(ctx, metricID, value, at); err != nil {
		r.Problems = append(r.Problems, fmt.Errorf("server %q: posting its %s to metric %d: %w", r.Server.Name, what, metricID, err))
		d.Log.Error().Err(err).Str("server", r.Server.Name).Int("metric", metricID).Msg("metric point failed")
		return
	}
	r.Notes = append(r.Notes, fmt.Sprintf("posted %s %g to metric %d", what, value, metricID))
}

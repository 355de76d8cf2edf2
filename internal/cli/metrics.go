package cli

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"github.com/proxer/cachet-updater/internal/config"
	"github.com/proxer/cachet-updater/internal/promfile"
	"github.com/proxer/cachet-updater/internal/status"
	"github.com/proxer/cachet-updater/internal/updater"
)

// writeMetrics writes metrics_file for a run that ended with code; a
// failed run keeps the last success of the file before. A file that cannot
// be written is logged, never a failure of the run: a missing textfile
// shows in its own alert. It is written after the run's deadline may have
// passed, so it has a bound of its own.
func writeMetrics(ctx context.Context, cfg *config.Config, sum updater.Summary, code int, log zerolog.Logger) {
	if cfg.MetricsFile == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	m := promfile.Metrics{RunTime: sum.Started, Duration: sum.Duration, ExitCode: code, Requests: sum.Requests}
	for _, r := range sum.Rows {
		s := promfile.Server{Name: r.Server.Name, ComponentID: r.Server.ComponentID, Duration: r.Probe.Latency, HTTPStatus: r.Probe.Code,
			Success: r.Probe.Class == "" && r.Decision != nil && r.Decision.Probe == status.Operational, CertExpiry: r.Probe.CertExpiry}
		if r.Reports != nil {
			s.Reports, s.ReportsKnown = *r.Reports, true
		}
		if r.Component != nil {
			s.ComponentStatus = int(r.Current)
			if r.Action == updater.Updated {
				s.ComponentStatus = int(r.Publish)
			}
		}
		m.Servers = append(m.Servers, s)
	}
	if err := promfile.Write(ctx, cfg.MetricsFile, m); err != nil {
		log.Error().Err(err).Str("metrics_file", cfg.MetricsFile).Msg("could not write the metrics textfile")
	}
}

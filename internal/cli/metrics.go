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

// metricsTimeout bounds reading and writing the textfile: it is written
// after the run's own deadline may have passed.
const metricsTimeout = 5 * time.Second

// writeMetrics writes metrics_file for a run that ended with code (a failed
// run keeps the file's last success). A file that cannot be written is
// logged, never a failure of the run: the textfile is there to watch runs,
// and a missing one shows in its alert.
func writeMetrics(ctx context.Context, cfg *config.Config, sum updater.Summary, code int, log zerolog.Logger) {
	if cfg.MetricsFile == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metricsTimeout)
	defer cancel()
	m := promfile.Metrics{
		RunTime:  sum.Started,
		Duration: sum.Duration,
		ExitCode: code,
		Requests: sum.RequestsByMethod,
		Servers:  make([]promfile.Server, 0, len(sum.Rows)),
	}
	for _, r := range sum.Rows {
		s := promfile.Server{
			Name:         r.Server.Name,
			ComponentID:  r.Server.ComponentID,
			Success:      r.Probe.Class == "" && r.Decided() && r.Decision.Probe == status.Operational,
			Duration:     r.Probe.Latency,
			HTTPStatus:   r.Probe.Code,
			Reports:      r.Reports.Count,
			ReportsKnown: r.Reports.Available,
			CertExpiry:   r.Probe.CertExpiry,
		}
		switch {
		case r.Action == updater.Updated:
			s.ComponentStatus = int(r.Publish)
		case r.CurrentKnown:
			s.ComponentStatus = int(r.Current)
		}
		m.Servers = append(m.Servers, s)
	}
	if err := promfile.Write(ctx, cfg.MetricsFile, m); err != nil {
		log.Error().Err(err).Str("metrics_file", cfg.MetricsFile).Msg("could not write the metrics textfile")
	}
}

package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/proxer/cachet-updater/internal/status"
)

// TestInvalid loads every invalid-*.yaml fixture and checks the line and a
// substring of the message. Every fixture must be listed here.
func TestInvalid(t *testing.T) {
	tests := []struct {
		file string
		line int
		want string
	}{
		{"unknown-top-key", 3, `probes: unknown key "probes" (did you mean "probe"?)`},
		{"unknown-server-key", 7, `servers[0].compnent: unknown key "compnent": the keys allowed here are name, url`},
		{"typo-probe-key", 4, `probe.timout: unknown key "timout" (did you mean "timeout"?)`},
		{"threshold-unknown-key", 5, `reports.thresholds.outage: unknown key "outage"`},
		{"inline-token", 3, "cachet.token: inline tokens are refused; put the token in an environment variable (token_env) or a file readable only by this user (token_file) so it stays out of backups and version control"},
		{"token-env-and-file", 4, "cachet.token_file: token_env and token_file are both set: keep only one"},
		{"token-env-not-a-name", 3, "cachet.token_env: must be the name of an environment variable"},
		{"cachet-missing", 0, "cachet: is required"},
		{"cachet-url-missing", 2, "cachet.url: is required"},
		{"cachet-url-relative", 2, "cachet.url: must be an absolute http or https URL"},
		{"cachet-url-ftp", 2, "cachet.url: must be an absolute http or https URL"},
		{"cachet-url-no-host", 2, "cachet.url: must be an absolute http or https URL"},
		{"server-url-missing", 4, "servers[0].url: is required"},
		{"server-url-relative", 5, "servers[0].url: must be an absolute http or https URL such as https://s1.example.org/"},
		{"server-url-ftp", 5, "servers[0].url: must be an absolute http or https URL"},
		{"server-url-no-host", 5, "servers[0].url: must be an absolute http or https URL"},
		{"server-name-missing", 4, "servers[0].name: is required"},
		{"servers-empty", 3, "servers: is empty: list at least one server"},
		{"servers-missing", 0, "servers: is required"},
		{"servers-not-a-list", 4, `servers: must be a list (lines starting with "- ", or [a, b]), not a mapping`},
		{"server-not-a-mapping", 4, "servers[0]: must be a mapping"},
		{"duplicate-name", 7, `servers[1].name: "Stream 1" is also the name of servers[0] on line 4`},
		{"duplicate-component-id", 9, "servers[1].component_id: 1 is also the component of servers[0] on line 6"},
		{"component-id-zero", 6, "servers[0].component_id: must be at least 1"},
		{"component-id-negative", 6, "servers[0].component_id: must be at least 1"},
		{"component-id-string", 6, "servers[0].component_id: must be a whole number"},
		{"component-id-missing", 4, "servers[0].component_id: is required"},
		{"component-id-octal", 6, `servers[0].component_id: 014 has a leading 0, which YAML reads as an octal number (12): write 14`},
		{"component-id-hex", 6, `servers[0].component_id: 0x10 is not a decimal whole number: write 16`},
		{"component-id-float", 6, `servers[0].component_id: 12.0 is not a decimal whole number: write 12`},
		{"metric-id-exponent", 7, `servers[0].metric_id: 1e3 is not a decimal whole number: write 1000`},
		{"reports-metric-id-quoted", 7, `servers[0].reports_metric_id: "12" is quoted, which makes it text: write 12 without quotes`},
		{"status-name-unknown", 6, `probe.status: status key "5xx": unknown status "down": use one of operational`},
		{"on-timeout-unknown", 4, `probe.on_timeout: unknown status "slow"`},
		{"on-error-unknown", 7, `servers[0].on_error: unknown status "Major Outage"`},
		{"status-key-2x9", 5, `probe.status: status key "2x9"`},
		{"status-key-600", 5, `probe.status: status key "600"`},
		{"status-key-backwards", 5, `status key "300-200": the range runs backwards`},
		{"status-overlap", 6, `status keys "200-299" and "2xx" overlap and are equally specific`},
		{"status-empty", 4, "probe.status: is empty"},
		{"timeout-zero", 4, "probe.timeout: must be longer than 0"},
		{"timeout-negative", 3, "cachet.timeout: must be longer than 0"},
		{"duration-bare-number", 4, "probe.timeout: 10 is a bare number, not a duration: add a unit"},
		{"duration-garbage", 3, `run_timeout: "five minutes" is not a duration`},
		{"slow-negative", 7, "servers[0].slow: must not be negative"},
		{"thresholds-not-increasing", 6, "reports.thresholds: must increase strictly"},
		{"thresholds-partial-above-default", 5, "partial_outage (60) < major_outage (50)"},
		{"threshold-zero", 5, "reports.thresholds.performance_issues: must be at least 1"},
		{"source-type-unknown", 5, `reports.source.type: must be file, sql or none, not "redis"`},
		{"source-type-missing", 5, "reports.source.type: is required"},
		{"file-source-no-path", 5, "reports.source.path: is required"},
		{"file-source-bad-format", 7, `reports.source.format: must be counts or events, not "csv"`},
		{"file-source-negative-max-age", 7, "reports.source.max_age: must not be negative"},
		{"file-driver-key", 7, "reports.source.driver: is for a source of type sql, and this one has type file: remove it"},
		{"none-with-path", 6, "reports.source.path: is for a source of type file, and this one has type none: remove it"},
		{"sql-no-driver", 5, "reports.source.driver: is required"},
		{"sql-unknown-driver", 6, `reports.source.driver: must be mysql, postgres or sqlite, not "oracle"`},
		{"sql-no-query", 5, "reports.source.query: is required"},
		{"sql-inline-dsn-mysql", 7, "reports.source.dsn: an inline DSN is allowed only for sqlite"},
		{"sql-dsn-env-and-file", 8, "reports.source.dsn_file: only one of dsn_env, dsn_file and dsn may be set"},
		{"sql-no-dsn", 5, "reports.source: needs the database: set dsn_env"},
		{"sql-path-key", 8, "reports.source.path: is for a source of type file, and this one has type sql: remove it"},
		{"server-concurrency", 7, "servers[0].concurrency: concurrency is global: set it under probe"},
		{"method-post", 4, `probe.method: must be GET or HEAD, not "POST"`},
		{"bool-not-bool", 4, "probe.tls_skip_verify: must be true or false"},
		{"retries-negative", 3, "cachet.retries: must be at least 0"},
		{"write-concurrency-zero", 3, "cachet.write_concurrency: must be at least 1"},
		{"concurrency-zero", 4, "probe.concurrency: must be at least 1"},
		{"window-zero", 4, "reports.window: must be longer than 0"},
		{"key-twice", 4, "cachet.timeout: is set twice (first on line 3)"},
		{"null-value", 4, "probe.timeout: has no value"},
		{"scalar-where-mapping", 1, "cachet: must be a mapping"},
		{"yaml-syntax", 4, "YAML syntax error in the block that starts on this line: did not find expected '-' indicator"},
		{"yaml-syntax-scanner", 6, "YAML syntax error: mapping values are not allowed in this context"},
		{"yaml-unclosed-flow", 4, "YAML syntax error in the block that starts on this line"},
		{"tab-indent", 2, "indented with a tab: YAML allows only spaces"},
		{"tab-indent-server", 5, "indented with a tab"},
		{"empty", 0, "the config file is empty"},
		{"only-comments", 0, "holds only comments"},
		{"not-a-mapping", 1, "the config must be a YAML mapping"},
		{"two-documents", 7, "more than one YAML document"},
		{"not-utf8", 4, "not valid UTF-8"},
		{"confirm-zero", 4, "confirm.worse: must be from 1 to 16"},
		{"state-path-and-sql", 5, "state.sql: state.path and state.sql are both set"},
		{"state-sql-inline-mysql", 6, "state.sql.dsn: an inline DSN is allowed only for sqlite"},
		{"quorum-without-sql", 4, "quorum.probes: is 2, but only state.sql lets several vantages share"},
		{"vantage-name", 4, `vantage.name: "fra 1": use 1 to 64 letters`},
		{"state-sql-no-dsn", 4, "state.sql: needs the database"},
		{"head-expect-body", 5, "probe.expect_body: a HEAD probe gets no body to match"},
		{"window-both", 5, "maintenance.windows[0]: has both start/end and weekly"},
		{"window-server", 5, `maintenance.windows[0].servers[1]: "Stream 9" is not the name of a server`},
		{"window-weekly", 5, `maintenance.windows[0].weekly: "Tue 3am-4am": write it like "Tue 03:00-04:30"`},
		{"window-zone", 6, `maintenance.windows[0].time_zone: "Mars/Olympus" is not a time zone`},
		{"cachet-schedules", 4, `maintenance.cachet_schedules: must be named (a schedule covers the servers it names; on Cachet 3.x, the components it lists), all (every server) or off, not "every"`},
		{"max-open-zero", 4, "maintenance.max_open: must be longer than 0"},
		{"time-zone", 3, `time_zone: "Mars/Olympus" is not a time zone: write an IANA name such as Europe/Berlin or UTC`},
		{"cachet-time-zone", 3, `cachet.time_zone: "CET+1" is not a time zone`},
		{"incident-template", 5, `incidents.name: is not a valid template: there is no field .Srever; the fields are .Server`},
		{"expect-body-regexp", 4, "probe.expect_body: is not a regular expression"},
		{"cachet-api", 3, `cachet.api: must be auto, v2 or v3, not "v4"`},
		{"confirm-too-many", 7, "servers[0].confirm.better: must be from 1 to 16"},
		{"max-failing", 4, `guard.max_failing: "120%" is not a share: write a percentage from 1% to 100%`},
		{"canary-url", 6, "guard.canaries[1]: must be an absolute http or https URL"},
		{"manual-hold-negative", 3, "manual_hold: must not be negative"},
		{"server-confirm-typo", 8, `servers[0].confirm.wrose: unknown key "wrose" (did you mean "worse"?)`},
		{"component-id-typo", 6, `servers[0].component_ids: unknown key "component_ids" (did you mean "component_id"?)`},
		{"cachet-url-userinfo", 2, "cachet.url: must not hold a user name or password"},
		{"server-url-userinfo-ftp", 5, "servers[0].url: must be an absolute http or https URL such as https://s1.example.org/"},
		{"none-with-timeout", 6, "reports.source.timeout: is for a source of type file or sql, and this one has type none: remove it"},
		{"duration-days-garbage", 4, `reports.window: "2h1d" is not a duration: write it like 10s, 1m30s, 2h or 14d`},
		{"proxy-not-bool", 7, "servers[0].proxy_from_environment: must be true or false"},
		{"many", 4, "cachet.timeout: 10 is a bare number"},
	}
	listed := map[string]bool{}
	for _, tt := range tests {
		listed[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "invalid-"+tt.file+".yaml")
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", path, cfg)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load(%s) error %T %v, want *config.Error", path, err, err)
			}
			if ce.File != path || ce.Line != tt.line {
				t.Errorf("error at %s:%d, want %s:%d (%v)", ce.File, ce.Line, path, tt.line, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
			if strings.Contains(err.Error(), "map[") || strings.Contains(err.Error(), "config.") || strings.Contains(err.Error(), "!!") {
				t.Errorf("error leaks Go or YAML internals: %v", err)
			}
		})
	}
	files, err := filepath.Glob(filepath.Join("testdata", "invalid-*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "invalid-"), ".yaml")
		if !listed[name] {
			t.Errorf("fixture %s has no entry in the table", f)
		}
	}
}

func TestSecretsNotEchoed(t *testing.T) {
	for _, f := range []string{"inline-token", "token-env-not-a-name", "sql-inline-dsn-mysql", "cachet-url-userinfo", "server-url-userinfo-ftp"} {
		_, err := Load(filepath.Join("testdata", "invalid-"+f+".yaml"))
		for _, secret := range []string{"0123456789abcdef", "9f8a-7b6c-secret", "hunter2"} {
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error contains the secret %q: %v", f, secret, err)
			}
		}
	}
}

func TestErrorString(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{File: "configs/x.yaml", Line: 12, Key: "servers[3].url", Msg: "bad"}, "configs/x.yaml:12: servers[3].url: bad"},
		{Error{File: "x.yaml", Key: "cachet", Msg: "is required"}, "x.yaml: cachet: is required"},
		{Error{File: "x.yaml", Line: 3, Msg: "syntax"}, "x.yaml:3: syntax"},
		{Error{File: "x.yaml", Msg: "empty"}, "x.yaml: empty"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestLoadMissingAndLarge(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "nope.yaml"))
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	data := []byte("# " + strings.Repeat("x", MaxFileSize) + "\n")
	if err := os.WriteFile(big, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); !errors.As(err, &ce) || !strings.Contains(err.Error(), fmt.Sprintf("larger than %d KiB", MaxFileSize>>10)) {
		t.Errorf("large file: %v", err)
	}
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return cfg
}

func statusMap(t *testing.T, m map[string]string) StatusMap {
	t.Helper()
	sm, err := NewStatusMap(m)
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

func TestValidFull(t *testing.T) {
	path := filepath.Join("testdata", "valid-full.yaml")
	cfg := mustLoad(t, path)
	abs, _ := filepath.Abs(path)
	dir := filepath.Dir(abs)

	global := Probe{
		Timeout: Duration(8 * time.Second), Concurrency: 200, Method: "HEAD",
		TLSSkipVerify: false, FollowRedirects: false, ProxyFromEnvironment: true,
		Status:    statusMap(t, map[string]string{"200-299": "operational", "429": "partial_outage", "3xx": "performance_issues"}),
		OnTimeout: Status(status.PartialOutage), OnError: Status(status.MajorOutage), Slow: Duration(2 * time.Second),
	}
	want := &Config{
		Path: abs,
		Cachet: Cachet{
			URL: "https://status.example.org/api/v1", TokenFile: filepath.Join(dir, "secrets", "cachet-token"),
			Timeout: Duration(7 * time.Second), Retries: 5, WriteConcurrency: 2,
			TimeZone: zone(t, "Europe/Berlin"), token: origin{line: 4},
		},
		Probe: global,
		Reports: Reports{
			Window:     Duration(90 * time.Minute),
			Thresholds: Thresholds{PerformanceIssues: 5, PartialOutage: 30, MajorOutage: 60},
			Source: Source{
				Type: "sql", Driver: "sqlite", DSN: filepath.Join(dir, "data", "reports.db"),
				Query:   "SELECT server, COUNT(*) FROM stream_reports WHERE created_at >= ? GROUP BY server",
				Timeout: Duration(3 * time.Second),
			},
		},
		LockFile:    filepath.Join(dir, "run", "updater.lock"),
		RunTimeout:  Duration(2 * time.Minute),
		TimeZone:    zone(t, "Asia/Tokyo"),
		State:       State{Path: filepath.Join(dir, "run", "state.json")},
		Confirm:     Confirm{Worse: 3, Better: 1, MaxGap: Duration(20 * time.Minute)},
		ManualHold:  Duration(24 * time.Hour),
		MetricsFile: filepath.Join(dir, "run", "metrics.prom"),
		Guard:       Guard{Canaries: []WebURL{"https://example.org/", "http://canary.example.net:8080/ping"}, MaxFailing: Share{Percent: 80}},
		Servers: []Server{
			{Name: "Stream 14", URL: "https://s14.example.org/", ComponentID: 14, ReportsKey: "s14", Probe: global, Line: 50,
				Confirm: Confirm{Worse: 3, Better: 1, MaxGap: Duration(20 * time.Minute)}},
			{Name: "Stream 15", URL: "http://s15.example.org:8080/health", ComponentID: 15, ReportsKey: "Stream 15", Line: 54,
				Confirm: Confirm{Worse: 1, Better: 1, MaxGap: Duration(20 * time.Minute)}, Probe: Probe{
					Timeout: Duration(3 * time.Second), Concurrency: 200, Method: "GET",
					TLSSkipVerify: true, FollowRedirects: true, ProxyFromEnvironment: false,
					Status:    statusMap(t, map[string]string{"200": "operational", "5xx": "partial_outage"}),
					OnTimeout: Status(status.MajorOutage), OnError: Status(status.PartialOutage), Slow: Duration(500 * time.Millisecond),
				}},
		},
	}
	withNewDefaults(want)
	if !reflect.DeepEqual(comparable(cfg), comparable(want)) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg, want)
	}
	if r, ok := cfg.Servers[1].Probe.Status.Codes().Lookup(503); !ok || r.Status != status.PartialOutage {
		t.Errorf("codes: 503 → %+v %v", r, ok)
	}
}

func TestValidMinimalDefaults(t *testing.T) {
	path := filepath.Join("testdata", "valid-minimal.yaml")
	cfg := mustLoad(t, path)
	abs, _ := filepath.Abs(path)
	def := DefaultProbe()
	want := &Config{
		Path: abs,
		Cachet: Cachet{
			URL: "https://status.example.org/api/v1", TokenEnv: "CACHET_API_TOKEN",
			Timeout: Duration(10 * time.Second), Retries: 3, WriteConcurrency: 4,
			TimeZone: TimeZone{Loc: time.UTC},
		},
		Probe: def,
		Reports: Reports{
			Window:     Duration(2 * time.Hour),
			Thresholds: Thresholds{PerformanceIssues: 11, PartialOutage: 20, MajorOutage: 50},
			Source:     Source{Type: "none"},
		},
		RunTimeout: Duration(5 * time.Minute),
		TimeZone:   TimeZone{Loc: time.Local}, // as cron
		Confirm:    Confirm{Worse: 2, Better: 2, MaxGap: Duration(15 * time.Minute)},
		ManualHold: Duration(2 * time.Hour),
		Guard:      Guard{MaxFailing: Share{Percent: 100}},
		Servers: []Server{
			{Name: "Stream 1", URL: "https://s1.example.org/", ComponentID: 1, ReportsKey: "Stream 1", Probe: def, Line: 4,
				Confirm: Confirm{Worse: 2, Better: 2, MaxGap: Duration(15 * time.Minute)}},
		},
	}
	withNewDefaults(want)
	if !reflect.DeepEqual(comparable(cfg), comparable(want)) {
		t.Errorf("got\n%+v\nwant\n%+v", cfg, want)
	}
	wantProbe := Probe{Timeout: Duration(10 * time.Second), Concurrency: 1500, Method: "GET", FollowRedirects: true,
		Status: statusMap(t, map[string]string{"200-399": "operational"}), OnTimeout: Status(status.PerformanceIssues), OnError: Status(status.MajorOutage),
		OnBodyMismatch: Status(status.MajorOutage), CertExpiry: Duration(14 * 24 * time.Hour)}
	if !reflect.DeepEqual(def, wantProbe) {
		t.Errorf("DefaultProbe() = %+v, want %+v", def, wantProbe)
	}
}

func TestValidOther(t *testing.T) {
	cfg := mustLoad(t, filepath.Join("testdata", "valid-file-source.yaml"))
	abs, _ := filepath.Abs("testdata")
	if cfg.Cachet.TokenEnv != "MY_TOKEN" || cfg.Cachet.TokenFile != "" {
		t.Errorf("Cachet = %+v", cfg.Cachet)
	}
	wantSrc := Source{Type: "file", Path: filepath.Join(filepath.Dir(abs), "reports", "counts.json"), Format: "counts", MaxAge: Duration(15 * time.Minute), Timeout: Duration(5 * time.Second)}
	if cfg.Reports.Source != wantSrc {
		t.Errorf("Source = %+v, want %+v", cfg.Reports.Source, wantSrc)
	}
	if want := (Thresholds{PerformanceIssues: 11, PartialOutage: 25, MajorOutage: 50}); cfg.Reports.Thresholds != want {
		t.Errorf("partial thresholds override = %+v, want %+v", cfg.Reports.Thresholds, want)
	}
	if s := cfg.Servers[0]; s.Name != "14" || s.ReportsKey != "14" {
		t.Errorf("numeric name: %+v", s)
	}

	cfg = mustLoad(t, filepath.Join("testdata", "valid-sql-env.yaml"))
	if s := cfg.Reports.Source; s.Type != "sql" || s.Driver != "postgres" || s.DSNEnv != "REPORTS_DSN" || s.Timeout.D() != 5*time.Second || s.MaxAge != 0 || s.Format != "" {
		t.Errorf("Source = %+v", s)
	}
}

func TestParseEdgeCases(t *testing.T) {
	base := "cachet:\n  url: https://status.example.org/api/v1\nservers:\n  - name: a\n    url: https://a.example.org/\n    component_id: 1\n"
	for _, tt := range []struct {
		name, extra string
		check       func(*Config) bool
	}{
		{"bare zero is a duration", "probe:\n  slow: 0\n", func(c *Config) bool { return c.Probe.Slow == 0 }},
		{"max_age 0 turns the check off", "reports:\n  source:\n    type: file\n    path: /abs/r.json\n    max_age: 0\n", func(c *Config) bool {
			return c.Reports.Source.MaxAge == 0 && c.Reports.Source.Path == "/abs/r.json"
		}},
		{"explicit none", "reports:\n  source:\n    type: none\n", func(c *Config) bool { return c.Reports.Source.Type == "none" }},
		{"empty lock_file is left to the caller", "lock_file: \"\"\n", func(c *Config) bool { return c.LockFile == "" }},
		{"absolute lock_file", "lock_file: /run/lock/cu.lock\n", func(c *Config) bool { return c.LockFile == "/run/lock/cu.lock" }},
		{"aliases are followed", "probe:\n  status: &m {\"2xx\": major_outage}\n  on_error: partial_outage\n", func(c *Config) bool {
			r, _ := c.Probe.Status.Codes().Lookup(204)
			return r.Status == status.MajorOutage
		}},
		{"days", "reports:\n  window: 1d12h\nrun_timeout: 0.5d\nprobe:\n  slow: 1500ms\n", func(c *Config) bool {
			return c.Reports.Window.D() == 36*time.Hour && c.RunTimeout.D() == 12*time.Hour && c.Probe.Slow.D() == 1500*time.Millisecond
		}},
		{"file source timeout", "reports:\n  source:\n    type: file\n    path: r.json\n    timeout: 2s\n", func(c *Config) bool {
			return c.Reports.Source.Timeout.D() == 2*time.Second
		}},
		{"file source timeout default", "reports:\n  source:\n    type: file\n    path: r.json\n", func(c *Config) bool {
			return c.Reports.Source.Timeout.D() == DefaultSourceTimeout && DefaultSourceTimeout == 5*time.Second
		}},
		{"proxy per server", "probe:\n  proxy_from_environment: true\n", func(c *Config) bool {
			return c.Probe.ProxyFromEnvironment && c.Servers[0].Probe.ProxyFromEnvironment
		}},
		{"cachet_schedules true", "maintenance:\n  cachet_schedules: true\n", func(c *Config) bool { return c.Maintenance.CachetSchedules == SchedulesNamed }},
		{"cachet_schedules false", "maintenance:\n  cachet_schedules: false\n", func(c *Config) bool { return c.Maintenance.CachetSchedules == SchedulesOff }},
		{"cachet_schedules in any case", "maintenance:\n  cachet_schedules: All\n", func(c *Config) bool { return c.Maintenance.CachetSchedules == SchedulesAll }},
		{"method in any case", "probe:\n  method: Head\n", func(c *Config) bool { return c.Servers[0].Probe.Method == "HEAD" }},
		{"sqlite URI dsn is kept", "reports:\n  source:\n    type: sql\n    driver: sqlite\n    dsn: \"file:r.db?mode=ro\"\n    query: SELECT 1\n", func(c *Config) bool {
			return c.Reports.Source.DSN == "file:r.db?mode=ro"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("/etc/cu/x.yaml", []byte(base+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

// withNewDefaults fills in the defaults of the keys the valid-*.yaml
// fixtures do not set: the Cachet API, the probe's body and certificate
// checks, incidents and maintenance.
func zone(t *testing.T, name string) TimeZone {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return TimeZone{Loc: loc}
}

func withNewDefaults(c *Config) {
	d := defaults()
	c.Cachet.API = d.Cachet.API
	c.Incidents, c.Maintenance, c.Quorum = d.Incidents, d.Maintenance, d.Quorum
	c.State.SQL = d.State.SQL
	fill := func(p *Probe) {
		p.OnBodyMismatch, p.CertExpiry = d.Probe.OnBodyMismatch, d.Probe.CertExpiry
	}
	fill(&c.Probe)
	for i := range c.Servers {
		fill(&c.Servers[i].Probe)
	}
}

// comparable is c with its templates as text: two parses of one template
// are never DeepEqual.
func comparable(c *Config) any {
	cc := *c
	in := cc.Incidents
	cc.Incidents = Incidents{}
	return struct {
		C                               Config
		Enabled, Visible, Notify        bool
		OpenAt                          Status
		Name, Message, Update, Resolved string
	}{cc, in.Enabled, in.Visible, in.Notify, in.OpenAt, in.Name.String(), in.Message.String(), in.Update.String(), in.Resolved.String()}
}

func TestServerOverridesEveryProbeKey(t *testing.T) {
	base := "cachet:\n  url: https://status.example.org/api/v1\nservers:\n  - name: a\n    url: https://a.example.org/\n    component_id: 1\n"
	probe := reflect.TypeFor[Probe]()
	for i := range probe.NumField() {
		name, _, _ := strings.Cut(probe.Field(i).Tag.Get("yaml"), ",")
		if name == "concurrency" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			vals := map[string]string{"timeout": "3s", "method": "HEAD", "tls_skip_verify": "true", "follow_redirects": "false",
				"proxy_from_environment": "true", "status": "{\"2xx\": operational}", "on_timeout": "major_outage", "on_error": "partial_outage", "slow": "1s",
				"expect_body": "ok", "on_body_mismatch": "partial_outage", "cert_expiry": "3d", "on_cert_expiry": "performance_issues"}
			v, ok := vals[name]
			if !ok {
				t.Fatalf("no test value for probe key %s", name)
			}
			cfg, err := Parse("/etc/cu/x.yaml", []byte(base+"    "+name+": "+v+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.ValueOf(cfg.Servers[0].Probe).Field(i)
			def := reflect.ValueOf(cfg.Probe).Field(i)
			if reflect.DeepEqual(got.Interface(), def.Interface()) {
				t.Errorf("servers[0].%s: %s did not override the default %v", name, v, def)
			}
		})
	}
}

func TestServerURLBasicAuth(t *testing.T) {
	data := "cachet:\n  url: https://status.example.org/api/v1\nservers:\n  - name: a\n    url: https://probe:" + secretValue + "@a.example.org/health\n    component_id: 1\n"
	cfg, err := Parse("/etc/cu/x.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Servers[0]
	if s.URL != "https://probe:"+secretValue+"@a.example.org/health" {
		t.Errorf("URL = %q, want it whole for the prober", s.URL)
	}
	if got := s.DisplayURL(); got != "https://probe:xxxxx@a.example.org/health" {
		t.Errorf("DisplayURL() = %q", got)
	}
	// Nothing the config says about such a file may hold the password.
	bad := strings.Replace(data, "component_id: 1", "component_id: 0\n    timout: 1s", 1)
	bad = strings.Replace(bad, "https://status", "ftp://status", 1)
	if _, err := Parse("/etc/cu/x.yaml", []byte(bad)); err == nil || strings.Contains(err.Error(), secretValue) {
		t.Errorf("error holds the password or is missing: %v", err)
	}
	for _, w := range cfg.Warnings(noStat) {
		if strings.Contains(w, secretValue) {
			t.Errorf("warning holds the password: %s", w)
		}
	}
}

func TestAllowNoServers(t *testing.T) {
	only := "cachet:\n  url: https://status.example.org/api/v1\n"
	cfg, err := parse("x.yaml", []byte(only), true)
	if err != nil || len(cfg.Servers) != 0 || cfg.Cachet.URL != "https://status.example.org/api/v1" {
		t.Fatalf("cachet only: %+v, %v", cfg, err)
	}
	if _, err := parse("x.yaml", []byte(only+"servers: []\n"), true); err != nil {
		t.Errorf("empty servers: %v", err)
	}
	if _, err := Parse("x.yaml", []byte(only)); err == nil || !strings.Contains(err.Error(), "servers: is required") {
		t.Errorf("Parse without servers: %v", err)
	}
	// What is there is still checked.
	_, err = parse("x.yaml", []byte(only+"servers:\n  - name: a\n"), true)
	if err == nil || !strings.Contains(err.Error(), "servers[0].url: is required") {
		t.Errorf("a broken server: %v", err)
	}
	dir := t.TempDir()
	path := writeFile(t, dir, "c.yaml", only)
	if _, err := LoadCachetOnly(path); err != nil {
		t.Errorf("LoadCachetOnly: %v", err)
	}
}

// TestPathResolvesSymlinks: the same file through a symlink has the same
// Path (the run lock is derived from it); relative paths in it resolve
// against the folder of the path given.
func TestPathResolvesSymlinks(t *testing.T) {
	dir := t.TempDir()
	real := writeFile(t, dir, "real.yaml", minimalYAML+"lock_file: run.lock\n")
	linkDir := filepath.Join(dir, "etc")
	if err := os.Mkdir(linkDir, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(linkDir, "config.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	a, b := mustLoad(t, real), mustLoad(t, link)
	realResolved, _ := filepath.EvalSymlinks(real)
	if a.Path != realResolved || b.Path != realResolved {
		t.Errorf("Path = %q and %q, want both %q", a.Path, b.Path, realResolved)
	}
	if b.LockFile != filepath.Join(linkDir, "run.lock") {
		t.Errorf("LockFile = %q, want it next to the path given", b.LockFile)
	}
	if cfg, err := Parse("no/such/dir/c.yaml", []byte(minimalYAML)); err != nil || !filepath.IsAbs(cfg.Path) {
		t.Errorf("a path that does not exist: %+v, %v", cfg, err)
	}
}

func TestErrorsInFileOrder(t *testing.T) {
	data := "cachet:\n  url: ftp://x\nprobe:\n  timout: 1s\nservers: []\n"
	_, err := Parse("x.yaml", []byte(data))
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 || ce.Key != "cachet.url" {
		t.Errorf("want the first error on line 2, got %v", err)
	}
}

func TestDuration(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"0", 0, "0s"},
		{"0s", 0, "0s"},
		{"90s", 90 * time.Second, "1m30s"},
		{"2h", 2 * time.Hour, "2h"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"500ms", 500 * time.Millisecond, "500ms"},
		{"14d", 14 * 24 * time.Hour, "14d"},
		{"1d12h", 36 * time.Hour, "36h"},
		{"1.5d", 36 * time.Hour, "36h"},
		{"0d", 0, "0s"},
		{"-1d", -24 * time.Hour, "-1d"},
		{" 7d ", 7 * 24 * time.Hour, "7d"},
	} {
		var d Duration
		if errs := d.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: tt.in}); errs != nil || d.D() != tt.want || d.String() != tt.str {
			t.Errorf("%q: %v %s, %v; want %v %s", tt.in, d.D(), d, errs, tt.want, tt.str)
		}
	}
	for _, in := range []string{"10", "1.5", "d", "1dd", "1d-2h", "2h1d", "1e3d", "infd", "0x10d", "1 d", "1_0d", "99999999999d", "ten"} {
		var d Duration
		if errs := d.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: in}); errs == nil {
			t.Errorf("%q parsed as %v, want an error", in, d.D())
		}
	}
}

// BenchmarkParseLarge guards against quadratic work: 10,000 servers sharing
// one big anchored status mapping (a timed test would be flaky here).
func BenchmarkParseLarge(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("probe:\n  status: &m\n")
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&sb, "    \"100-%d\": operational\n", 100+i) // nested, so no two are equally wide
	}
	benchParse(b, sb.String(), "  - {name: s%d, url: 'https://s.org/', component_id: %[1]d, status: *m}\n")
}

// BenchmarkParseFleet is the common case: 10,000 plain servers, one probe
// key each.
func BenchmarkParseFleet(b *testing.B) {
	benchParse(b, "", "  - name: Stream %d\n    url: https://s%[1]d.example.org/\n    component_id: %[1]d\n    timeout: 5s\n")
}

func benchParse(b *testing.B, head, server string) {
	var sb strings.Builder
	sb.WriteString("cachet:\n  url: https://status.example.org/api/v1\n" + head + "servers:\n")
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&sb, server, i)
	}
	data := []byte(sb.String())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("big.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStatusKeyLimit: a mapping with far too many keys is refused before the
// overlap check, which compares every pair.
func TestStatusKeyLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("cachet:\n  url: https://status.example.org/api/v1\nprobe:\n  status:\n")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "    \"%d-%d\": operational\n", 100+i, 150+i)
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "more than 200") {
		t.Errorf("want the key limit, got %v", err)
	}
}

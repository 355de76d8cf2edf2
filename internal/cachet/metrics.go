package cachet

//lint:file-ignore ST1005 error texts start with "Cachet", the proper noun, when they say what Cachet answered.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Metric is a Cachet metric.
type Metric struct {
	ID     int
	Name   string
	Suffix string
	// Sum: Cachet says it is a sum metric (calc_type 0), whose chart
	// multiplies a point's value by its counter.
	Sum bool
	// Threshold is the metric's threshold in minutes (0: not said): Cachet
	// folds points posted within it into one.
	Threshold int
}

// UnmarshalJSON decodes a 2.x metric or a 3.x JSON:API resource.
func (m *Metric) UnmarshalJSON(b []byte) error {
	res, v3, err := jsonAPI(b)
	if err != nil {
		return fmt.Errorf("decoding metric: %w", err)
	}
	if v3 {
		b = res.Attributes
	}
	var raw struct {
		ID        flexInt  `json:"id"`
		Name      *string  `json:"name"`
		Suffix    *string  `json:"suffix"`
		CalcType  *flexInt `json:"calc_type"`
		Threshold flexInt  `json:"threshold"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decoding metric: %w", err)
	}
	*m = Metric{ID: int(raw.ID), Sum: raw.CalcType != nil && *raw.CalcType == 0, Threshold: int(raw.Threshold)}
	if m.ID == 0 {
		m.ID = int(res.ID)
	}
	if raw.Name != nil {
		m.Name = *raw.Name
	}
	if raw.Suffix != nil {
		m.Suffix = *raw.Suffix
	}
	return nil
}

// MetricPoint is a point as Cachet stored it.
type MetricPoint struct {
	ID       int
	MetricID int
	Value    float64
	// Counter counts the points Cachet folded into this one: 2.x folds a
	// point into one with the same value from the last threshold
	// minutes, 3.x any point within the threshold of the last one, whose
	// value it keeps.
	Counter   int
	CreatedAt time.Time // UTC, rounded by Cachet to 30 seconds
}

// UnmarshalJSON decodes a 2.x point or a 3.x JSON:API resource.
func (p *MetricPoint) UnmarshalJSON(b []byte) error {
	res, v3, err := jsonAPI(b)
	if err != nil {
		return fmt.Errorf("decoding metric point: %w", err)
	}
	if v3 {
		b = res.Attributes
	}
	var raw struct {
		ID        flexInt    `json:"id"`
		MetricID  flexInt    `json:"metric_id"`
		Value     flexFloat  `json:"value"`
		Counter   flexInt    `json:"counter"`
		CreatedAt cachetTime `json:"created_at"`
		Created   cachetTime `json:"created"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("decoding metric point: %w", err)
	}
	*p = MetricPoint{ID: int(raw.ID), MetricID: int(raw.MetricID), Value: float64(raw.Value), Counter: int(raw.Counter), CreatedAt: time.Time(raw.CreatedAt)}
	if p.ID == 0 {
		p.ID = int(res.ID)
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = time.Time(raw.Created)
	}
	return nil
}

func (p *MetricPoint) inZone(loc *time.Location) { p.CreatedAt = wallIn(p.CreatedAt, loc) }

// Metrics lists every metric the token may see, following pagination (on
// 2.x with an *IncompleteListError when the listing ends short).
func (c *Client) Metrics(ctx context.Context) ([]Metric, error) {
	api, err := c.API(ctx)
	if err != nil {
		return nil, err
	}
	id := func(m Metric) int { return m.ID }
	if api == APIv3 {
		return listV3(ctx, c, "/metrics", nil, id)
	}
	return list(ctx, c, "/metrics", "metrics", id)
}

// AddMetricPoint adds a point to a metric with POST /metrics/{id}/points
// and returns the point Cachet answered with, which may be an earlier one
// it counted this one into (see MetricPoint.Counter). at is sent as a Unix
// timestamp; the zero time leaves it to Cachet (now). It counts as done
// only when Cachet answers with a point of that metric.
func (c *Client) AddMetricPoint(ctx context.Context, metricID int, value float64, at time.Time) (MetricPoint, error) {
	switch {
	case metricID <= 0:
		return MetricPoint{}, fmt.Errorf("cachet: invalid metric id %d", metricID)
	case math.IsNaN(value) || math.IsInf(value, 0):
		return MetricPoint{}, fmt.Errorf("cachet: metric %d: %v is not a value Cachet can store", metricID, value)
	}
	api, err := c.API(ctx)
	if err != nil {
		return MetricPoint{}, err
	}
	body := struct {
		Value     float64 `json:"value"`
		Timestamp *int64  `json:"timestamp,omitempty"`
	}{Value: value}
	if !at.IsZero() {
		ts := at.Unix()
		body.Timestamp = &ts
	}
	path := "/metrics/" + strconv.Itoa(metricID) + "/points"
	var out struct {
		Data *MetricPoint `json:"data"`
	}
	code, err := c.do(ctx, &call{api: api, method: http.MethodPost, path: path, in: body, out: &out})
	if err != nil {
		return MetricPoint{}, err
	}
	switch got := out.Data; {
	case got == nil:
		err = fmt.Errorf("Cachet answered %d without a metric point: it may not have been added (%s)", code, hintFor(api))
	case got.MetricID != 0 && got.MetricID != metricID:
		err = fmt.Errorf("Cachet answered %d with a point of metric %d, not %d", code, got.MetricID, metricID)
	default:
		c.inZone(api, got)
		return *got, nil
	}
	return MetricPoint{}, &opError{sec: c.sec, method: http.MethodPost, path: path, err: err}
}

// Package status holds Cachet's component status values and the pure rule
// that turns a probe observation and a report count into a status.
package status

import (
	"fmt"
	"strings"
)

// Status is a Cachet 2.x component status. The values are Cachet's own.
type Status int

// Cachet 2.x component statuses.
const (
	Unknown           Status = 0
	Operational       Status = 1
	PerformanceIssues Status = 2
	PartialOutage     Status = 3
	MajorOutage       Status = 4
)

var names = [...]string{"unknown", "operational", "performance_issues", "partial_outage", "major_outage"}

var labels = [...]string{"Unknown", "Operational", "Performance Issues", "Partial Outage", "Major Outage"}

var plain = [...]string{"in an unknown state", "working normally", "slow", "partly unavailable", "unavailable"}

// Valid reports whether s is one of Cachet's five statuses.
func (s Status) Valid() bool { return s >= Unknown && s <= MajorOutage }

// String returns the config name of s (operational, performance_issues, ...).
func (s Status) String() string {
	if !s.Valid() {
		return fmt.Sprintf("status(%d)", int(s))
	}
	return names[s]
}

// Label returns Cachet's English label for s ("Performance Issues"), as
// incident texts say it.
func (s Status) Label() string {
	if !s.Valid() {
		return fmt.Sprintf("Status %d", int(s))
	}
	return labels[s]
}

// Plain says s as a person would in a sentence about a server ("partly
// unavailable"), as the default incident texts do.
func (s Status) Plain() string {
	if !s.Valid() {
		return "in an unknown state"
	}
	return plain[s]
}

// Parse turns a config status name into a Status. Only the four statuses a
// server can be set to are accepted; "unknown" is not a decision.
func Parse(name string) (Status, error) {
	for i := Operational; i <= MajorOutage; i++ {
		if names[i] == name {
			return i, nil
		}
	}
	return Unknown, fmt.Errorf("unknown status %q: use one of %s", name, strings.Join(names[1:], ", "))
}

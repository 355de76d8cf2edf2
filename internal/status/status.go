// Package status holds Cachet's component statuses and the map from HTTP
// status codes to them.
package status

import (
	"fmt"
	"strings"
)

// Status is a Cachet component status; the values are Cachet 2.x's own.
type Status int

// Cachet's component statuses.
const (
	Unknown Status = iota
	Operational
	PerformanceIssues
	PartialOutage
	MajorOutage
)

var (
	names  = [...]string{"unknown", "operational", "performance_issues", "partial_outage", "major_outage"}
	labels = [...]string{"Unknown", "Operational", "Performance Issues", "Partial Outage", "Major Outage"}
	plain  = [...]string{"in an unknown state", "working normally", "slow", "partly unavailable", "unavailable"}
)

// Valid reports whether s is one of Cachet's five statuses.
func (s Status) Valid() bool { return s >= Unknown && s <= MajorOutage }

// String returns the config name of s (operational, performance_issues, ...).
func (s Status) String() string { return s.in(names, fmt.Sprintf("status(%d)", int(s))) }

// Label returns Cachet's English label for s ("Performance Issues").
func (s Status) Label() string { return s.in(labels, fmt.Sprintf("Status %d", int(s))) }

// Plain says s as a person would of a server ("partly unavailable").
func (s Status) Plain() string { return s.in(plain, plain[Unknown]) }

func (s Status) in(words [5]string, invalid string) string {
	if !s.Valid() {
		return invalid
	}
	return words[s]
}

// Parse turns a config status name into a Status: one of the four a server
// can be set to ("unknown" is no decision).
func Parse(name string) (Status, error) {
	for i := Operational; i <= MajorOutage; i++ {
		if names[i] == name {
			return i, nil
		}
	}
	return Unknown, fmt.Errorf("unknown status %q: use one of %s", name, strings.Join(names[1:], ", "))
}

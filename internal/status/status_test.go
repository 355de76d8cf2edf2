package status

import (
	"strings"
	"testing"
)

func TestParseAndString(t *testing.T) {
	for _, s := range []Status{Operational, PerformanceIssues, PartialOutage, MajorOutage} {
		got, err := Parse(s.String())
		if err != nil || got != s {
			t.Errorf("Parse(%q) = %v, %v", s.String(), got, err)
		}
	}
	for _, bad := range []string{"", "unknown", "Operational", "down", "major outage"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "operational, performance_issues, partial_outage, major_outage") {
			t.Errorf("Parse(%q): want an error listing the names, got %v", bad, err)
		}
	}
	if Status(7).Valid() || Status(-1).Valid() || !Unknown.Valid() {
		t.Error("Valid is wrong at the edges")
	}
	if Status(7).String() != "status(7)" {
		t.Error("String is wrong")
	}
}

func TestParseCodeMap(t *testing.T) {
	tests := []struct {
		name    string
		in      map[string]string
		wantErr string
		lookups map[int]Status // 0 = no match
	}{
		{"default", map[string]string{"200-399": "operational"}, "", map[int]Status{199: 0, 200: Operational, 399: Operational, 400: 0}},
		{"class and codes", map[string]string{"2xx": "operational", "4XX": "partial_outage", "404": "major_outage"}, "", map[int]Status{204: Operational, 404: MajorOutage, 410: PartialOutage, 500: 0}},
		{"narrower range wins", map[string]string{"500-599": "major_outage", "500-503": "performance_issues", "502": "partial_outage"}, "", map[int]Status{500: PerformanceIssues, 502: PartialOutage, 504: MajorOutage}},
		{"range equal to class", map[string]string{"200-299": "operational", "2xx": "major_outage"}, "equally specific", nil},
		{"overlapping equal width", map[string]string{"200-250": "operational", "240-290": "major_outage"}, "equally specific", nil},
		{"backwards", map[string]string{"300-200": "operational"}, "runs backwards", nil},
		{"out of range", map[string]string{"600": "operational"}, "100 to 599", nil},
		{"bad class", map[string]string{"6xx": "operational"}, "1xx to 5xx", nil},
		{"junk", map[string]string{"2x9": "operational"}, "want a code", nil},
		{"two digits", map[string]string{"20": "operational"}, "want a code", nil},
		{"bad status", map[string]string{"200": "fine"}, `status key "200": unknown status "fine"`, nil},
		{"unknown is not a decision", map[string]string{"200": "unknown"}, "unknown status", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseCodeMap(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for code, want := range tt.lookups {
				r, ok := m.Lookup(code)
				if want == 0 {
					if ok {
						t.Errorf("%d: want no match, got %q", code, r.Key)
					}
					continue
				}
				if !ok || r.Status != want {
					t.Errorf("%d: got %v (%v), want %v", code, r.Status, ok, want)
				}
			}
		})
	}
}

// FuzzParseCodeMap checks that any single key either parses into a range
// inside 100..599 whose lookups agree with it, or fails with an error.
func FuzzParseCodeMap(f *testing.F) {
	for _, s := range []string{"200", "2xx", "200-399", "599", "100-100", "300-200", "6xx", " 2XX", "20-", "-", "999999999999999999999"} {
		f.Add(s, "operational")
	}
	f.Add("404", "major_outage")
	f.Add("404", "nonsense")
	f.Fuzz(func(t *testing.T, key, name string) {
		m, err := ParseCodeMap(map[string]string{key: name})
		if err != nil {
			return
		}
		rules := m.rules
		if len(rules) != 1 {
			t.Fatalf("want one rule, got %d", len(rules))
		}
		r := rules[0]
		if r.Lo < 100 || r.Hi > 599 || r.Lo > r.Hi || !r.Status.Valid() || r.Status == Unknown {
			t.Fatalf("bad rule %+v from %q", r, key)
		}
		if got, ok := m.Lookup(r.Lo); !ok || got != r {
			t.Fatalf("Lookup(%d) = %+v, %v", r.Lo, got, ok)
		}
		if _, ok := m.Lookup(r.Hi + 1); ok && r.Hi < 599 {
			t.Fatalf("Lookup(%d) matched beyond the range", r.Hi+1)
		}
	})
}

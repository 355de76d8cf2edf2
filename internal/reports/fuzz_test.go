package reports

import (
	"testing"
)

func FuzzCounts(f *testing.F) {
	for _, seed := range []string{`{"s14": 12, "s15": 0}`, `{}`, `{"a": 1.0e1}`, `{"a": -1}`, `{"a": 1, "a": 2}`, `{"a": 1`, `[1]`, "\xEF\xBB\xBF{}"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseCounts("fuzz.json", data)
		counts := p.counts
		if err != nil && counts != nil {
			t.Fatalf("counts %v with error %v", counts, err)
		}
		for k, n := range counts {
			if n < 0 {
				t.Fatalf("count for %q is negative: %d", k, n)
			}
		}
	})
}

func FuzzEvents(f *testing.F) {
	for _, seed := range []string{"key,time\ns14,2026-11-25T06:10:00Z\n", "# c\n\ns14,2026-11-25T04:35:00Z", "s14,yesterday", "a,b,c", ",2026-11-25T06:10:00Z"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseEvents("fuzz.csv", data, testSince, testNow.Add(MaxClockSkew))
		counts := p.counts
		if err != nil && counts != nil {
			t.Fatalf("counts %v with error %v", counts, err)
		}
		total := 0
		for k, n := range counts {
			if n <= 0 {
				t.Fatalf("count for %q is %d, want positive", k, n)
			}
			total += n
		}
		if lines := 1 + countByte(data, '\n'); total > lines {
			t.Fatalf("%d reports from %d lines", total, lines)
		}
	})
}

func countByte(data []byte, b byte) int {
	n := 0
	for _, c := range data {
		if c == b {
			n++
		}
	}
	return n
}

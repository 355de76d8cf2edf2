package reports

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func BenchmarkParseCounts(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i := range 10_000 {
		if i > 0 {
			buf.WriteString(",\n")
		}
		fmt.Fprintf(&buf, "  \"s%d\": %d", i, i%50)
	}
	buf.WriteString("\n}\n")
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := parseCounts("bench.json", data)
		if err != nil || len(p.counts) != 10_000 {
			b.Fatal(len(p.counts), err)
		}
	}
}

func BenchmarkParseEvents(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("key,time\n")
	for i := range 100_000 {
		t := testNow.Add(-time.Duration(i%240) * time.Minute) // half in the window
		fmt.Fprintf(&buf, "s%d,%s\n", i%500, t.Format(time.RFC3339))
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseEvents("bench.csv", data, testSince, testNow.Add(MaxClockSkew)); err != nil {
			b.Fatal(err)
		}
	}
}

package foreign

import (
	"fmt"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Stream 14", "Stream 14"},
		{"Büro Stream", "Büro Stream"},
		{"", ""},
		{"ams1\x1b]0;pwned\x07", `"ams1\x1b]0;pwned\a"`},
		{"a\nb\tc", `"a\nb\tc"`},
		{"a\xffb", `"a\xffb"`},           // not UTF-8
		{"a\u009b31mb", `"a\u009b31mb"`}, // a C1 control (CSI)
		{"a\u202eb", `"a\u202eb"`},       // a bidirectional override
		{strings.Repeat("x", Max), strings.Repeat("x", Max)},
		{strings.Repeat("x", 1<<20), strings.Repeat("x", Max) + "... (1048576 bytes)"},
		{strings.Repeat("é", Max), strings.Repeat("é", Max/2) + fmt.Sprintf("... (%d bytes)", 2*Max)},
		{"x" + strings.Repeat("é", Max), "x" + strings.Repeat("é", Max/2-1) + fmt.Sprintf("... (%d bytes)", 2*Max+1)}, // never half a character
		{strings.Repeat("\x1b", Max+1), `"` + strings.Repeat(`\x1b`, Max) + fmt.Sprintf(`"... (%d bytes)`, Max+1)},
	}
	for _, tt := range tests {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%.40q) = %.80q, want %.80q", tt.in, got, tt.want)
		}
	}
}

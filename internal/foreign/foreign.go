// Package foreign makes text from outside this program fit to show: what
// Cachet answered, rows other vantages wrote to the shared database, the
// names in a server's certificate, what a server sent instead of HTTP.
package foreign

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// Max is how many bytes of a text Text keeps.
const Max = 300

// Text returns s as it is when it is at most Max bytes and every character
// in it prints; otherwise quoted with Go escapes and cut to Max bytes, with
// its length said. Such a text must not reach a terminal or a log with
// escape sequences (colours, window titles, cursor moves), a line break
// that forges a line of a table, or a megabyte.
func Text(s string) string {
	rest := ""
	if len(s) > Max {
		rest = fmt.Sprintf("... (%d bytes)", len(s))
		cut := Max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	for _, r := range s {
		if r == utf8.RuneError || r != ' ' && !unicode.IsPrint(r) {
			return strconv.Quote(s) + rest
		}
	}
	return s + rest
}

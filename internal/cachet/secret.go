package cachet

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const redacted = "[redacted]"

// secret removes the API token from text that came from elsewhere: Cachet
// may echo the token in an error ("token ... lacks permission"), raw, or
// escaped for a URL, JSON or HTML. It is held by pointer so that %#v of an
// error prints an address, never the forms.
type secret struct {
	forms []string // longest first, so that a longer form is replaced whole
}

func newSecret(token string) *secret {
	if token == "" {
		return nil
	}
	forms := []string{token, url.QueryEscape(token), url.PathEscape(token), html.EscapeString(token), phpJSON(token)}
	for _, escapeHTML := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(escapeHTML)
		_ = enc.Encode(token) // a string always encodes
		forms = append(forms, strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:])
	}
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return &secret{forms: slices.Compact(forms)}
}

// phpJSON escapes s like PHP's json_encode with default flags, which
// Cachet uses: "/" and everything outside ASCII are escaped too.
func phpJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		default:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		}
	}
	return b.String()
}

// redact replaces every form of the token in text.
func (s *secret) redact(text string) string {
	if s == nil {
		return text
	}
	for _, f := range s.forms {
		text = strings.ReplaceAll(text, f, redacted)
	}
	return text
}

// checkToken refuses a token that cannot be sent in an HTTP header; net/http
// would fail every request with "invalid header field value", which looks
// like a network error. The message never shows the token.
func checkToken(token string) error {
	if !utf8.ValidString(token) {
		return errors.New("cachet: the API token is not valid UTF-8; check the token file or variable")
	}
	for i, r := range token {
		switch {
		case r == '\uFEFF':
			return fmt.Errorf("cachet: the API token holds a byte order mark (U+FEFF) at byte %d; save the token file without a BOM", i)
		case unicode.IsControl(r):
			return fmt.Errorf("cachet: the API token holds a control character (%U) at byte %d; remove line breaks and other invisible characters from it", r, i)
		}
	}
	if token != strings.TrimSpace(token) {
		return errors.New("cachet: the API token starts or ends with a space; remove it")
	}
	return nil
}

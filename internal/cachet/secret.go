package cachet

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/url"
	"slices"
	"strings"
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

// phpJSON escapes an ASCII token (see CheckToken) like PHP's json_encode
// with default flags, which Cachet uses: "/" is escaped too.
func phpJSON(s string) string {
	return strings.NewReplacer(`"`, `\"`, `\`, `\\`, "/", `\/`).Replace(s)
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

// CheckToken says why token cannot be Cachet's API token, or nil: it goes
// in an HTTP header, so it is one word of visible ASCII (Cachet's tokens
// are letters, digits and, on 3.x, "|"). net/http would fail a line break
// on every request with what looks like a network error, and send a
// pasted quote as bytes Cachet never matches. The message never shows the
// token; the caller adds where it came from.
func CheckToken(token string) error {
	if strings.ContainsAny(token, "\r\n") {
		return errors.New("the token holds more than one line")
	}
	for i := 0; i < len(token); i++ {
		switch b := token[i]; {
		case b <= ' ' || b == 0x7f:
			return fmt.Errorf("the token holds a space or control character (at byte %d)", i+1)
		case b >= 0x80:
			return fmt.Errorf("the token holds a character that is not plain ASCII (at byte %d), such as a pasted quote", i+1)
		}
	}
	return nil
}

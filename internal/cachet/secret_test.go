package cachet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/cachet"
	"github.com/proxer/cachet-updater/internal/status"
)

// oddToken escapes differently in a URL, in Go's and PHP's JSON and in HTML.
const (
	oddToken        = `k3y/v+a=l&u<e>|"x`
	oddTokenPHPJSON = `k3y\/v+a=l&u<e>|\"x` // json_encode's default escaping
)

// tokenForms is every way a server may echo tok.
func tokenForms(tok string) []string {
	goJSON, _ := json.Marshal(tok)
	forms := []string{tok, url.QueryEscape(tok), url.PathEscape(tok), html.EscapeString(tok), strings.Trim(string(goJSON), `"`)}
	if tok == oddToken {
		forms = append(forms, oddTokenPHPJSON)
	}
	return forms
}

// assertNoToken checks every printed form of v for every form of tok.
func assertNoToken(t *testing.T, what string, v any, tok string) {
	t.Helper()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(verb, v)
		for _, f := range tokenForms(tok) {
			if strings.Contains(s, f) {
				t.Errorf("%s printed with %s contains the token (as %q): %s", what, verb, f, s)
			}
		}
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	type echo func(tok string) (code int, contentType, body string)
	jsonErr := func(code int, f func(tok string) string) echo {
		return func(tok string) (int, string, string) { return code, "application/json", f(tok) }
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := []struct {
		name  string
		call  string // "put", "ping" or "list"
		reply echo
		want  string // part of the message that shows Cachet's text was kept
	}{
		{"422 errors[0] title, detail and details", "put", jsonErr(422, func(tok string) string {
			return fmt.Sprintf(`{"errors":[{"status":422,"title":%s,"detail":%s,"meta":{"details":[%s]}}]}`,
				q("Token "+tok), q("token "+tok+" lacks permission"), q("The token "+tok+" may not write."))
		}), "422 Token [redacted]: token [redacted] lacks permission (The token [redacted] may not write.)"},
		{"422 details by field", "put", jsonErr(422, func(tok string) string {
			return fmt.Sprintf(`{"errors":[{"status":422,"title":"Unprocessable","detail":"no","meta":{"details":{"token":[%s]}}}]}`, q(tok+" is read-only"))
		}), "([redacted] is read-only)"},
		{"403 Laravel message", "put", jsonErr(403, func(tok string) string {
			return fmt.Sprintf(`{"message":%s}`, q("This action is unauthorized for "+tok+"."))
		}), "403 Forbidden: This action is unauthorized for [redacted]."},
		{"500 HTML page after retries", "list", func(tok string) (int, string, string) {
			return 500, "text/html", "<html><body><h1>Whoops</h1><pre>X-Cachet-Token: " + tok + "</pre><p>" + html.EscapeString(tok) + "</p></body></html>"
		}, "after 2 attempts: 500 Internal Server Error: response is not JSON (text/html): <html><body><h1>Whoops</h1><pre>X-Cachet-Token: [redacted]</pre><p>[redacted]</p>"},
		{"400 text with escaped forms", "put", func(tok string) (int, string, string) {
			return 400, "text/plain", "login?token=" + url.QueryEscape(tok) + " path /t/" + url.PathEscape(tok) + " json " + tokenForms(tok)[4] + " php " + tokenForms(tok)[len(tokenForms(tok))-1]
		}, "login?token=[redacted] path /t/[redacted] json [redacted] php [redacted]"},
		{"ping echoing the token", "ping", func(tok string) (int, string, string) {
			return 200, "application/json", fmt.Sprintf(`{"data":%s}`, q(tok))
		}, "unexpected answer [redacted]"},
		{"component field echoing the token", "list", func(tok string) (int, string, string) {
			return 200, "application/json", fmt.Sprintf(`{"data":[{"id":%s}]}`, q(tok))
		}, "cannot decode \"[redacted]\" as an integer"},
		{"status echoing the token on a write", "put", func(tok string) (int, string, string) {
			return 200, "application/json", fmt.Sprintf(`{"data":{"id":1,"status":%s}}`, q(tok))
		}, "status is no number"},
		{"status echoing the token in a listing", "list", func(tok string) (int, string, string) {
			return 200, "application/json", fmt.Sprintf(`{"data":[{"id":1,"status":%s}]}`, q(tok))
		}, ""},
	}
	for _, tok := range []string{token, oddToken} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/%s", tok, tt.name), func(t *testing.T) {
				ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					code, ct, body := tt.reply(tok)
					w.Header().Set("Content-Type", ct)
					w.WriteHeader(code)
					_, _ = fmt.Fprint(w, body)
				}))
				defer ts.Close()
				c, _ := newClient(t, ts.URL+"/api/v1", func(o *cachet.Options) { o.Token, o.Retries = tok, 1 })
				var err error
				switch tt.call {
				case "put":
					_, err = c.SetStatus(context.Background(), 1, status.MajorOutage, true)
				case "ping":
					err = c.Ping(context.Background())
				default:
					_, err = c.Components(context.Background())
				}
				if tt.want == "" { // no error: the component comes without the token
					comps, err := c.Components(context.Background())
					if err != nil || len(comps) != 1 || comps[0].Unreadable != `"[redacted]"` {
						t.Fatalf("%+v, %v", comps, err)
					}
					return
				}
				if err == nil {
					t.Fatal("no error")
				}
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v\nwant it to contain %s", err, tt.want)
				}
				assertNoToken(t, "the error", err, tok)
				assertNoToken(t, "the client", c, tok)
				var apiErr *cachet.APIError
				if errors.As(err, &apiErr) {
					assertNoToken(t, "the APIError", *apiErr, tok)
				}
			})
		}
	}
}

func TestNewRefusesTokensThatCannotBeSent(t *testing.T) {
	const base = "Zq9-secret-Zq9"
	tests := []struct {
		name, token, want string
	}{
		{"trailing newline", base + "\n", "the token holds more than one line"},
		{"CRLF inside", "Zq9-\r\nsecret-Zq9", "the token holds more than one line"},
		{"NUL", base + "\x00", "the token holds a space or control character (at byte 15)"},
		{"tab", base + "\t", "a space or control character (at byte 15)"},
		{"DEL", base + "\x7f", "a space or control character (at byte 15)"},
		{"leading space", " " + base, "a space or control character (at byte 1)"},
		{"inner space", "Zq9 secret-Zq9", "a space or control character (at byte 4)"},
		{"pasted quote", base + "\u201d", "the token holds a character that is not plain ASCII (at byte 15), such as a pasted quote"},
		{"BOM", "\uFEFF" + base, "not plain ASCII (at byte 1)"},
		{"invalid UTF-8", base + "\xff", "not plain ASCII (at byte 15)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cachet.New(cachet.Options{BaseURL: "http://127.0.0.1:1/api/v1", Token: tt.token, HTTPClient: &http.Client{}})
			if err == nil {
				t.Fatalf("New accepted the token; client %v", c)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
			for _, verb := range []string{"%v", "%+v", "%#v"} {
				if s := fmt.Sprintf(verb, err); strings.Contains(s, "secret") {
					t.Errorf("%s of the error shows the token: %s", verb, s)
				}
			}
		})
	}
	for _, ok := range []string{base, "1|" + base, oddToken} {
		if _, err := cachet.New(cachet.Options{BaseURL: "http://127.0.0.1:1/api/v1", Token: ok, HTTPClient: &http.Client{}}); err != nil {
			t.Errorf("New refused %q: %v", ok, err)
		}
	}
}

package cachet

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/proxer/cachet-updater/internal/foreign"
)

// APIError is a non-2xx answer from Cachet. It never holds request headers,
// and the token is removed from every text Cachet sent, so the token cannot
// leak through it. Every text Cachet sent is as foreign.Text shows it:
// escaped and cut.
type APIError struct {
	Method      string
	Path        string // relative to the base URL, e.g. /components/14 (no query)
	StatusCode  int
	Title       string // errors[0].title, or http.StatusText
	Detail      string // errors[0].detail, or 3.x's message
	Details     string // the validation messages: errors[0].meta.details, or 3.x's errors
	ContentType string // media type of the response, e.g. text/html
	// Body is a short excerpt of a body that is not Cachet's error JSON
	// (an HTML page from a proxy, say).
	Body string

	hint  string // what to check: cachet.url, or the token's rights
	shape int    // whose error JSON the body was
}

// Error bodies by origin.
const (
	shapeUnknown = iota // not JSON, or JSON neither API sends
	shapeCachet2        // Cachet 2.x: {"errors":[{"status","title","detail"}]}
	shapeLaravel        // Cachet 3.x (Laravel's default): {"message"[,"errors":{field:[...]}]}
)

// Error reads like
// "cachet: PUT /components/14: 400 Bad Request: The request cannot be fulfilled due to bad syntax. (The status may not be greater than 4.)".
func (e *APIError) Error() string { return "cachet: " + e.Method + " " + e.Path + ": " + e.detail() }

func (e *APIError) detail() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", e.StatusCode, e.Title)
	switch {
	case e.Detail != "" || e.Details != "":
		if e.Detail != "" {
			b.WriteString(": " + e.Detail)
		}
		if e.Details != "" && e.Details != e.Detail {
			b.WriteString(" (" + e.Details + ")")
		}
	case e.Body == "":
		b.WriteString(": empty response body")
	case e.ContentType != "" && !isJSONType(e.ContentType):
		b.WriteString(": response is not JSON (" + e.ContentType + "): " + e.Body)
	default:
		b.WriteString(": unexpected response: " + e.Body)
	}
	if e.hint != "" {
		b.WriteString(" (" + e.hint + ")")
	}
	return b.String()
}

func newAPIError(cl *call, resp *http.Response, body []byte, sec *secret) *APIError {
	e := &APIError{
		Method:      cl.method,
		Path:        cl.path,
		StatusCode:  resp.StatusCode,
		ContentType: mediaType(resp.Header.Get("Content-Type")),
	}
	var env struct {
		Errors  json.RawMessage `json:"errors"`
		Message *string         `json:"message"` // Laravel's default shape (Cachet 3.x)
	}
	var list []struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Meta   struct {
			Details json.RawMessage `json:"details"`
		} `json:"meta"`
	}
	// Redacted whole, then cut: a token cut in half would not be redacted.
	text := func(s string) string { return foreign.Text(sec.redact(s)) }
	err := json.Unmarshal(body, &env)
	switch {
	case err == nil && json.Unmarshal(env.Errors, &list) == nil && len(list) > 0:
		first := list[0]
		e.shape = shapeCachet2
		e.Title, e.Detail, e.Details = text(first.Title), text(first.Detail), text(details(first.Meta.Details))
	case err == nil && env.Message != nil && *env.Message != "":
		e.shape = shapeLaravel
		e.Detail, e.Details = text(*env.Message), text(details(env.Errors))
	default:
		e.Body = excerpt(sec.redact(string(body)))
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	e.hint = errorHint(cl, resp.StatusCode, e.shape != shapeUnknown)
	return e
}

// errorHint says what to check: cachet.url when the answer suggests it is
// not the API base, or, on 3.x, the token and its abilities.
func errorHint(cl *call, code int, fromCachet bool) string {
	switch {
	case wrongURL(code, fromCachet, cl.path):
		return hintFor(cl.api)
	case cl.api != APIv3 || !fromCachet:
	case code == http.StatusUnauthorized:
		return "Cachet did not accept the API token: Cachet 3.x takes an API token made in its dashboard, sent as Authorization: Bearer; check the configured token"
	case code == http.StatusForbidden:
		return "the API token lacks the " + ability(cl.method, cl.path) + " ability: give the token that ability in Cachet's dashboard, or make a token that has it"
	}
	return ""
}

// ability names the Cachet 3.x token ability a write needs.
func ability(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	resource := parts[0]
	switch {
	case len(parts) >= 3 && parts[0] == "incidents" && parts[2] == "updates":
		resource = "incident-updates"
	case len(parts) >= 3 && parts[0] == "schedules" && parts[2] == "updates":
		resource = "schedule-updates"
	case len(parts) >= 3 && parts[0] == "metrics" && parts[2] == "points":
		resource = "metric-points"
	}
	if method == http.MethodDelete {
		return resource + ".delete"
	}
	return resource + ".manage"
}

// wrongURL reports whether an error answer suggests that cachet.url is not
// the API base: a 404 for a route every Cachet has, or a page that is not
// Cachet's JSON. A 404 for one component, incident or metric is Cachet
// saying the id is unknown; a 5xx page is a server or proxy failing,
// whatever the URL.
func wrongURL(code int, fromCachet bool, path string) bool {
	switch {
	case code == http.StatusNotFound:
		return !fromCachet || !isItemPath(path)
	case code >= 500:
		return false
	default:
		return !fromCachet
	}
}

// isItemPath reports whether path names one item (or a list below one):
// /components/3, /incidents/3/updates, /metrics/3/points.
func isItemPath(path string) bool {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[1] == "" || strings.Trim(parts[1], "0123456789") != "" {
		return false
	}
	switch parts[0] {
	case "components", "incidents", "metrics", "schedules":
		return len(parts) == 2 || parts[2] == "updates" || parts[2] == "points"
	}
	return false
}

// details joins ["msg", ...] and {"field": ["msg", ...]}, the latter in
// the order of the field names.
func details(raw json.RawMessage) string {
	var list []string
	if json.Unmarshal(raw, &list) != nil {
		var byField map[string][]string
		_ = json.Unmarshal(raw, &byField)
		for _, field := range slices.Sorted(maps.Keys(byField)) {
			list = append(list, byField[field]...)
		}
	}
	return strings.Join(list, " ")
}

// excerpt is body, already redacted, with its runs of white space made one
// space, as foreign.Text shows it.
func excerpt(body string) string { return foreign.Text(strings.Join(strings.Fields(body), " ")) }

// opError is a failure that is not an HTTP status: transport, reading or
// decoding. path may include the query (it never holds the token); err may
// quote Cachet's answer, so its text is redacted.
type opError struct {
	method, path string
	op           string
	err          error
	retry        bool
	sec          *secret
}

func (e *opError) Error() string { return "cachet: " + e.method + " " + e.path + ": " + e.detail() }

func (e *opError) detail() string {
	if e.op == "" {
		return e.sec.redact(e.err.Error())
	}
	return e.op + ": " + e.sec.redact(e.err.Error())
}

func (e *opError) Unwrap() error { return e.err }

// retryError is the last failure after several attempts, or after the
// context ended a wait between attempts.
type retryError struct {
	method, path string
	attempts     int
	last         error
	stop         error // why waiting for the next attempt ended, if it did
	sec          *secret
}

// finalError builds the error do returns. attempts is 0 and last nil when
// the context ended before the first attempt.
func (c *Client) finalError(method, path string, attempts int, last, stop error) error {
	if attempts == 1 && stop == nil {
		return last
	}
	return &retryError{method: method, path: path, attempts: attempts, last: last, stop: stop, sec: c.sec}
}

func (e *retryError) Error() string {
	msg := fmt.Sprintf("cachet: %s %s: ", e.method, e.path)
	switch {
	case e.last == nil:
		return e.sec.redact(msg + "not sent: " + e.stop.Error())
	case e.attempts > 1:
		msg += fmt.Sprintf("after %d attempts: ", e.attempts)
	}
	if d, ok := e.last.(interface{ detail() string }); ok {
		msg += d.detail()
	} else {
		msg += e.last.Error()
	}
	if e.stop != nil {
		msg += " (stopped retrying: " + e.stop.Error() + ")"
	}
	return e.sec.redact(msg)
}

func (e *retryError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.last, e.stop} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

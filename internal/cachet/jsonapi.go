package cachet

//lint:file-ignore ST1005 error texts start with "Cachet", the proper noun, when they say what Cachet answered.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/proxer/cachet-updater/internal/status"
)

// maxPerPageV3 is Cachet 3.x's limit; it clamps a larger per_page.
const maxPerPageV3 = 100

// Cachet 3.x component statuses that 2.x does not have.
const (
	v3Unknown          = 5
	v3UnderMaintenance = 6
)

// v3Status maps a status to Cachet 3.x's numbers, which have no 0.
func v3Status(s status.Status) int {
	if s == status.Unknown {
		return v3Unknown
	}
	return int(s)
}

// fromV3Status maps Cachet 3.x's numbers to a status; under maintenance
// (6) is status.Unknown with maintenance set.
func fromV3Status(v int) (s status.Status, maintenance bool) {
	switch v {
	case v3Unknown:
		return status.Unknown, false
	case v3UnderMaintenance:
		return status.Unknown, true
	}
	return status.Status(v), false
}

// resource is the frame of a JSON:API resource object; attributes is nil
// in a 2.x item, which has its fields at the top.
type resource struct {
	ID            flexInt                    `json:"id"`
	Attributes    json.RawMessage            `json:"attributes"`
	Relationships map[string]json.RawMessage `json:"relationships"`
}

// jsonAPI splits b into a JSON:API resource, or reports that it is not one.
func jsonAPI(b []byte) (resource, bool, error) {
	var r resource
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, err
	}
	return r, len(r.Attributes) > 0 && !isNull(r.Attributes), nil
}

// related returns the ids of a relationship Cachet was asked to include:
// {"data":{"type","id"}}, {"data":[...]} or {"data":null}.
func (r resource) related(name string) []int {
	var rel struct {
		Data json.RawMessage `json:"data"`
	}
	if json.Unmarshal(r.Relationships[name], &rel) != nil || isNull(rel.Data) {
		return nil
	}
	type identifier struct {
		ID flexInt `json:"id"`
	}
	var many []identifier
	if json.Unmarshal(rel.Data, &many) != nil {
		var one identifier
		if json.Unmarshal(rel.Data, &one) != nil {
			return nil
		}
		many = []identifier{one}
	}
	ids := make([]int, 0, len(many))
	for _, x := range many {
		if x.ID > 0 {
			ids = append(ids, int(x.ID))
		}
	}
	return ids
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

// storedStatus returns the status value a component answer holds as sent,
// in the API's numbering (3.x: attributes.status.value), or -1.
func storedStatus(b json.RawMessage) int {
	var raw struct {
		Status     *flexInt `json:"status"`
		Attributes *struct {
			Status *flexInt `json:"status"`
		} `json:"attributes"`
	}
	if json.Unmarshal(b, &raw) != nil {
		return -1
	}
	switch {
	case raw.Attributes != nil && raw.Attributes.Status != nil:
		return int(*raw.Attributes.Status)
	case raw.Attributes == nil && raw.Status != nil:
		return int(*raw.Status)
	}
	return -1
}

// listV3 reads every page of a Cachet 3.x list and keeps each id once.
// Cachet 3.x paginates without a total: a page's links.next says whether
// another follows. Only its page number is used: the client asks
// cachet.url for that page with its own query, because Laravel's links keep
// only page (per_page and the filters are dropped) and name the Host and
// scheme Cachet saw, which behind a proxy are not cachet.url's; so no
// request, and no token, goes anywhere else.
func listV3[T any](ctx context.Context, c *Client, path string, extra url.Values, id func(T) int) ([]T, error) {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	q.Set("per_page", strconv.Itoa(min(c.perPage, maxPerPageV3)))
	var all []T
	seen := map[int]bool{}
	for p := 1; ; {
		if p > maxPages {
			return nil, fmt.Errorf("cachet: GET %s: more than %d pages; stopping (does the server honour per_page and page?)", path, maxPages)
		}
		q.Set("page", strconv.Itoa(p))
		var doc struct {
			Data  []T `json:"data"`
			Links struct {
				Next json.RawMessage `json:"next"`
			} `json:"links"`
		}
		if _, err := c.do(ctx, &call{api: APIv3, method: http.MethodGet, path: path, query: q, out: &doc}); err != nil {
			return nil, err
		}
		for _, item := range doc.Data {
			if z, ok := any(&item).(zoned); ok {
				c.inZone(APIv3, z)
			}
			if k := id(item); !seen[k] {
				seen[k] = true
				all = append(all, item)
			}
		}
		next, err := nextPage(doc.Links.Next, p)
		if err != nil {
			return nil, &opError{sec: c.sec, method: http.MethodGet, path: path, err: err}
		}
		if next == 0 || len(doc.Data) == 0 {
			return all, nil
		}
		p = next
	}
}

// nextPage reads the page number of links.next (a URL, or a link object
// with href): 0 when there is none; it must follow page p.
func nextPage(raw json.RawMessage, p int) (int, error) {
	if isNull(raw) {
		return 0, nil
	}
	var link string
	if json.Unmarshal(raw, &link) != nil {
		var obj struct {
			Href string `json:"href"`
		}
		if json.Unmarshal(raw, &obj) != nil {
			return 0, fmt.Errorf("links.next is neither a URL nor a link object")
		}
		link = obj.Href
	}
	if link == "" {
		return 0, nil
	}
	u, err := url.Parse(link)
	if err != nil {
		return 0, fmt.Errorf("links.next is not a URL: %w", err)
	}
	next, err := strconv.Atoi(u.Query().Get("page"))
	if err != nil || next <= p {
		return 0, fmt.Errorf("page %d links to %s as the next page, which is not a later page number; stopping", p, u.Redacted())
	}
	return next, nil
}

package cachet

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// IncompleteListError says that a listing ended with fewer items than
// Cachet's meta.pagination.total, even after asking for the pages past the
// last one it announced. The items that were listed come with it.
type IncompleteListError struct {
	Listed, Total int
	what          string // "components" (the zero value), "component groups", "incidents", ...
}

// Error reads like "Cachet listed 18 of 20 components".
func (e *IncompleteListError) Error() string {
	what := e.what
	if what == "" {
		what = "components"
	}
	return fmt.Sprintf("Cachet listed %d of %d %s", e.Listed, e.Total, what)
}

type pagination struct {
	Total       flexInt `json:"total"`
	Count       flexInt `json:"count"`
	PerPage     flexInt `json:"per_page"`
	CurrentPage flexInt `json:"current_page"`
	TotalPages  flexInt `json:"total_pages"`
}

// getPage reads page p; pag is nil when the answer has no pagination.
func getPage[T any](ctx context.Context, c *Client, path string, p int) (pag *pagination, data []T, err error) {
	var pg struct {
		Meta *struct {
			Pagination *pagination `json:"pagination"`
		} `json:"meta"`
		Data []T `json:"data"`
	}
	q := url.Values{"per_page": {strconv.Itoa(c.perPage)}, "page": {strconv.Itoa(p)}}
	if _, err := c.do(ctx, &call{api: APIv2, method: http.MethodGet, path: path, query: q, out: &pg}); err != nil {
		return nil, nil, err
	}
	if pg.Meta != nil {
		pag = pg.Meta.Pagination
	}
	return pag, pg.Data, nil
}

// list reads every page of a Cachet 2.x list and keeps each id once: an
// item added while paging shifts the pages. It sends only page and
// per_page: Cachet answers 500 when column filters are mixed with page.
//
// Some installs announce too few pages; when the announced pages hold fewer
// items than meta.pagination.total, list asks for the following pages until
// one adds nothing. A listing still short is returned with an
// *IncompleteListError.
func list[T any](ctx context.Context, c *Client, path, what string, id func(T) int) ([]T, error) {
	var all []T
	seen := map[int]bool{}
	total, pastAnnounced := 0, false
	for p := 1; ; p++ {
		if p > maxPages {
			return nil, fmt.Errorf("cachet: GET %s: more than %d pages; stopping (does the server honour per_page and page?)", path, maxPages)
		}
		pag, data, err := getPage[T](ctx, c, path, p)
		if err != nil {
			return nil, err
		}
		if pag != nil && int(pag.CurrentPage) != p && p > 1 {
			if pastAnnounced {
				break // a server that clamps the page number has no more
			}
			return nil, fmt.Errorf("cachet: GET %s: asked for page %d, got page %d; is a proxy dropping the query string?", path, p, pag.CurrentPage)
		}
		added := 0
		for _, item := range data {
			if k := id(item); !seen[k] {
				seen[k] = true
				all = append(all, item)
				added++
			}
		}
		if pag == nil || len(data) == 0 || (pastAnnounced && added == 0) {
			break
		}
		total = int(pag.Total)
		if int(pag.CurrentPage) >= int(pag.TotalPages) {
			if len(all) >= total {
				break
			}
			pastAnnounced = true
		}
	}
	if len(all) < total {
		return all, &IncompleteListError{Listed: len(all), Total: total, what: what}
	}
	return all, nil
}

package cachettest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// SetPerPage sets the page size used when a request has no per_page
// (Cachet's default is 20).
func (s *Server) SetPerPage(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.perPage = n
}

// PaginationQuirks makes the component listing's meta.pagination disagree
// with its pages, as some Cachet installs do. The zero value tells the truth.
type PaginationQuirks struct {
	// TotalPagesShort reports total_pages this many pages too small (at
	// least 1); the pages past it still list their components.
	TotalPagesShort int
	// TotalExtra reports a total this many components larger than the
	// pages list; total_pages still counts only the listed ones.
	TotalExtra int
}

// SetPaginationQuirks sets how the component listing's meta lies.
func (s *Server) SetPaginationQuirks(q PaginationQuirks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quirks = q
}

// The columns Cachet 2.x lets a query filter on.
var (
	componentColumns  = []string{"id", "name", "status", "order", "group_id", "enabled"}
	incidentColumns   = []string{"id", "user_id", "component_id", "name", "status", "visible", "stickied"}
	incidentColumns23 = []string{"id", "component_id", "name", "status", "visible"}
)

func (s *Server) listComponents(w http.ResponseWriter, r *http.Request, authorized bool) {
	filters, ok := columnFilters(r.URL.Query(), componentColumns)
	if !ok {
		// Cachet turns every other parameter into a column too: SQL error, 500.
		writeError(w, http.StatusInternalServerError, detail500, nil)
		return
	}
	perPage := s.pageSize(r)
	loc := s.zone(r)
	s.mu.Lock()
	var visible []*entry
	for _, e := range s.sortedLocked() {
		if (e.c.Enabled || authorized) && matches(e.c, filters) {
			visible = append(visible, e)
		}
	}
	// Only the requested page is rendered.
	page, start, end := pageBounds(r, len(visible), perPage)
	items := make([]any, 0, end-start)
	for _, e := range visible[start:end] {
		items = append(items, s.componentJSONLocked(e, loc))
	}
	q := s.quirks
	s.mu.Unlock()
	writePage(w, r, items, page, len(visible), perPage, q)
}

// columnFilters mimics Cachet's SearchableTrait: when any query key is a
// searchable column, every key except sort, order and per_page becomes a
// WHERE clause; an unknown column (page included) is a SQL error.
func columnFilters(q url.Values, columns []string) (map[string]string, bool) {
	searchable := func(col string) bool { return slices.Contains(columns, col) }
	filters := map[string]string{}
	hasColumn := false
	for k := range q {
		switch k {
		case "sort", "order", "per_page":
			continue
		}
		filters[k] = q.Get(k)
		hasColumn = hasColumn || searchable(k)
	}
	if !hasColumn {
		return nil, true
	}
	for k := range filters {
		if !searchable(k) {
			return nil, false
		}
	}
	return filters, true
}

func matches(c Component, filters map[string]string) bool {
	return matchColumns(map[string]string{
		"id": strconv.Itoa(c.ID), "name": c.Name, "status": strconv.Itoa(c.Status),
		"order": "0", "group_id": strconv.Itoa(c.GroupID), "enabled": bit(c.Enabled),
	}, filters)
}

func bit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// matchColumns reports whether a row's columns hold every filter's value.
func matchColumns(cols, filters map[string]string) bool {
	for k, v := range filters {
		if cols[k] != v {
			return false
		}
	}
	return true
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ids := make([]int, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	items := make([]any, 0, len(ids))
	for _, id := range ids {
		items = append(items, groupJSON(id, s.groups[id]))
	}
	s.mu.Unlock()
	writeList(w, r, items, s.pageSize(r))
}

// pageSize follows Cachet: per_page defaults to the server setting (20);
// 0 or garbage falls back to the model default of 15; there is no maximum.
func (s *Server) pageSize(r *http.Request) int {
	q := r.URL.Query()
	if !q.Has("per_page") {
		s.mu.Lock()
		defer s.mu.Unlock()
		return max(s.perPage, 1)
	}
	n, err := strconv.Atoi(strings.TrimSpace(q.Get("per_page")))
	if err != nil || n <= 0 {
		return 15
	}
	return n
}

// pageBounds returns the requested page and the item range [start, end)
// it covers, as Cachet's paginator does.
func pageBounds(r *http.Request, total, perPage int) (page, start, end int) {
	page, err := strconv.Atoi(r.URL.Query().Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	start = min((page-1)*perPage, total)
	return page, start, min(start+perPage, total)
}

// writePage writes one page of a paginated list; data holds that page's
// items. q bends the meta; the links follow the bent numbers.
func writePage(w http.ResponseWriter, r *http.Request, data []any, page, total, perPage int, q PaginationQuirks) {
	totalPages := max((total+perPage-1)/perPage-q.TotalPagesShort, 1)
	total += q.TotalExtra
	if data == nil {
		data = []any{}
	}
	link := func(p int) any {
		if p < 1 || p > totalPages {
			return nil
		}
		return pageURL(r, p)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"meta": map[string]any{"pagination": map[string]any{
			"total": total, "count": len(data), "per_page": perPage,
			"current_page": page, "total_pages": totalPages,
			"links": map[string]any{"next_page": link(page + 1), "previous_page": link(page - 1)},
		}},
		"data": data,
	})
}

// writeList writes the requested page of items.
func writeList(w http.ResponseWriter, r *http.Request, items []any, perPage int) {
	page, start, end := pageBounds(r, len(items), perPage)
	writePage(w, r, items[start:end], page, len(items), perPage, PaginationQuirks{})
}

// pageURL is an absolute link with every query parameter but page, then page.
func pageURL(r *http.Request, page int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := r.URL.Query()
	q.Del("page")
	enc := q.Encode()
	if enc != "" {
		enc += "&"
	}
	return fmt.Sprintf("%s://%s%s?%spage=%d", scheme, r.Host, r.URL.Path, enc, page)
}

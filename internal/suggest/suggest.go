// Package suggest finds the words closest to a mistyped one, for "did you
// mean" hints in messages.
package suggest

import (
	"slices"
	"strings"
)

// maxLen bounds the words compared: the distance is quadratic, and nothing
// a person types as a name or key is this long.
const maxLen = 64

// Closest returns up to n of candidates that are close enough to word to
// be a typo of it (a case-insensitive match, a distance of at most 2 edits,
// or, for words of 4 or more characters, one containing the other), the
// closest first; ties keep the candidates' order.
func Closest(word string, candidates []string, n int) []string {
	w := strings.ToLower(word)
	dist := map[string]int{}
	var found []string
	for _, c := range candidates {
		lc := strings.ToLower(c)
		switch d := Distance(w, lc); {
		case d <= 2:
			dist[c] = d
		case len(w) >= 4 && len(lc) >= 4 && (strings.Contains(lc, w) || strings.Contains(w, lc)):
			dist[c] = 3
		default:
			continue
		}
		found = append(found, c)
	}
	slices.SortStableFunc(found, func(a, b string) int { return dist[a] - dist[b] })
	return found[:min(n, len(found))]
}

// Distance is the Levenshtein distance between a and b, in bytes; words
// longer than 64 bytes are "far" (1<<30).
func Distance(a, b string) int {
	if len(a) > maxLen || len(b) > maxLen {
		return 1 << 30
	}
	prev, cur := make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

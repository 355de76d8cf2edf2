package config

import (
	"reflect"
	"testing"
)

func TestClosest(t *testing.T) {
	names := []string{"Stream 1", "Stream 2", "Stream 14", "Website", "Archive"}
	tests := []struct {
		word string
		want []string
	}{
		{"stream 1", []string{"Stream 1", "Stream 2", "Stream 14"}},  // exact but for case first
		{"Stream 41", []string{"Stream 1", "Stream 2", "Stream 14"}}, // one deletion, then two edits each
		{"Webiste", []string{"Website"}},
		{"web", nil}, // too short to be a part of a name
		{"Archive-old", []string{"Archive"}},
		{"nothing like it", nil},
	}
	for _, tt := range tests {
		if got := Closest(tt.word, names, 3); !reflect.DeepEqual(got, tt.want) && (len(got) != 0 || len(tt.want) != 0) {
			t.Errorf("Closest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "abc", 0}, {"timout", "timeout", 1}, {"component_ids", "component_id", 1},
		{"kitten", "sitting", 3}, {string(make([]byte, 65)), "a", 1 << 30},
	} {
		if got := distance(tt.a, tt.b); got != tt.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

package cachet

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/proxer/cachet-updater/internal/status"
)

func TestComponentUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    Component
		wantErr string
	}{
		{"cachet 2.4", `{"id":1,"name":"API","description":"Public API","link":"","status":2,"order":0,"group_id":0,
			"created_at":"2024-05-01 10:00:00","updated_at":"2024-05-01 10:05:00","deleted_at":null,"enabled":true,
			"meta":null,"status_name":"Performance Issues","tags":[]}`,
			Component{ID: 1, Name: "API", Status: status.PerformanceIssues, Enabled: true}, ""},
		{"cachet 2.3 strings", `{"id":"14","name":"web","status":"3","enabled":"0","group_id":"2","tags":{"a":"A"},"link":null}`,
			Component{ID: 14, Name: "web", Status: status.PartialOutage, Enabled: false, GroupID: 2}, ""},
		{"numeric bools", `{"id":3,"status":0,"enabled":1,"group_id":null}`, Component{ID: 3, Enabled: true}, ""},
		{"numeric bool false", `{"id":3,"status":1,"enabled":0}`, Component{ID: 3, Status: 1}, ""},
		{"string bools", `{"id":3,"status":1,"enabled":"1"}`, Component{ID: 3, Status: 1, Enabled: true}, ""},
		{"word bools", `{"id":3,"status":1,"enabled":"false"}`, Component{ID: 3, Status: 1}, ""},
		{"enabled missing means enabled", `{"id":3,"status":4}`, Component{ID: 3, Status: 4, Enabled: true}, ""},
		{"enabled null means enabled", `{"id":3,"status":4,"enabled":null}`, Component{ID: 3, Status: 4, Enabled: true}, ""},
		{"float forms", `{"id":3.0,"status":"2.0","enabled":false}`, Component{ID: 3, Status: 2}, ""},
		{"spaces in strings", `{"id":" 5 ","status":" 1 ","enabled":false,"group_id":""}`, Component{ID: 5, Status: 1}, ""},
		{"status out of range kept", `{"id":1,"status":7,"enabled":true}`, Component{ID: 1, Status: 7, Enabled: true}, ""},
		{"cachet 3.x status object", `{"id":1,"status":{"human":"Operational","value":1},"enabled":true}`, Component{ID: 1, Status: 1, Enabled: true}, ""},
		{"tags object and meta", `{"id":2,"name":"x","status":1,"enabled":true,"tags":{"foo":"Foo","bar":"Bar"},"meta":{"k":[1,2]}}`,
			Component{ID: 2, Name: "x", Status: 1, Enabled: true}, ""},
		{"name null", `{"id":2,"name":null,"status":1,"enabled":true}`, Component{ID: 2, Status: 1, Enabled: true}, ""},
		{"bad status", `{"id":1,"status":"foo"}`, Component{ID: 1, Enabled: true, Unreadable: `"foo"`}, ""},
		{"fractional status", `{"id":1,"status":2.5}`, Component{ID: 1, Enabled: true, Unreadable: "2.5"}, ""},
		{"bool status", `{"id":1,"status":true}`, Component{ID: 1, Enabled: true, Unreadable: "true"}, ""},
		{"cachet 3.x bad status", `{"id":"1","attributes":{"status":{"value":"abc"},"latest_status":{"value":"x"}}}`,
			Component{ID: 1, Enabled: true, Unreadable: `{"value":"abc"}`}, ""},
		{"bad enabled", `{"id":1,"status":1,"enabled":"maybe"}`, Component{}, `cannot decode "maybe" as a boolean`},
		{"bad enabled number", `{"id":1,"status":1,"enabled":2}`, Component{}, "cannot decode 2 as a boolean"},
		{"not an object", `[1,2]`, Component{}, "decoding component"},
		{"name number", `{"id":1,"name":5}`, Component{}, "decoding component"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Component
			err := json.Unmarshal([]byte(tt.json), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Shown = tt.want.Status // visitors see the status (no 3.x latest_status)
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestComponentUnmarshalResets(t *testing.T) {
	c := Component{ID: 9, Name: "old", Status: 4, GroupID: 3}
	if err := json.Unmarshal([]byte(`{"id":1,"status":1,"enabled":false}`), &c); err != nil {
		t.Fatal(err)
	}
	if c != (Component{ID: 1, Status: 1, Shown: 1}) {
		t.Errorf("got %+v", c)
	}
}

func TestGroupUnmarshal(t *testing.T) {
	tests := []struct {
		json string
		want Group
	}{
		{`{"id":1,"name":"Web","order":0,"collapsed":0,"visible":1,"enabled_components":[]}`, Group{ID: 1, Name: "Web"}},
		{`{"id":"2","name":"DB"}`, Group{ID: 2, Name: "DB"}},
		{`{"id":3,"name":null}`, Group{ID: 3}},
	}
	for _, tt := range tests {
		var got Group
		if err := json.Unmarshal([]byte(tt.json), &got); err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.json, got, err, tt.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name, in, token, want string
	}{
		{"collapse whitespace", "<html>\r\n  <body>\tx</body>\n</html>\n", "", "<html> <body> x</body> </html>"},
		{"control chars", "a\x00b\x1bc", "", `"a\x00b\x1bc"`},
		{"invalid utf8", "a\xffb", "", `"a\xffb"`},
		{"token redacted", "echo secret123 back", "secret123", "echo [redacted] back"},
		{"long", strings.Repeat("é", 300), "", strings.Repeat("é", 150) + "... (600 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := excerpt(newSecret(tt.token).redact(tt.in))
			if got != tt.want {
				t.Errorf("excerpt = %q (%d bytes), want %q", got, len(got), tt.want)
			}
		})
	}
}

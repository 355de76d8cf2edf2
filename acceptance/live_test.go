//go:build acceptance

package acceptance

import (
	"os"
	"testing"
)

// TestLive runs the suite against the Cachet the operator names:
//
//	CU_ACCEPTANCE_CACHET_URL=https://staging.example.org/api/v1 \
//	CU_ACCEPTANCE_CACHET_TOKEN=... make acceptance
//
// It creates its own component group, components and metric there (all
// named "cachet-updater acceptance <random>") and removes them, and the
// incidents its runs opened, when it ends, pass or fail.
func TestLive(t *testing.T) {
	url, token := os.Getenv("CU_ACCEPTANCE_CACHET_URL"), os.Getenv("CU_ACCEPTANCE_CACHET_TOKEN")
	if url == "" || token == "" {
		t.Skip("set CU_ACCEPTANCE_CACHET_URL (the API base: .../api/v1 for Cachet 2.x, .../api for 3.x) and " +
			"CU_ACCEPTANCE_CACHET_TOKEN to run the acceptance suite against a Cachet: see docs/cachet.md, \"Acceptance against your own Cachet\"")
	}
	suite(t, buildBinary(t), url, token)
}

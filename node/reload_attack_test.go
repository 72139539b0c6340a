package node_test

import (
	"strings"
	"testing"

	"github.com/herdnet/herd/internal/testclient"
	"github.com/herdnet/herd/node"
)

// TestAttackReloadHidesAdminToken: an operator rotates
// security.admin_token with SIGHUP. The reload's notes go to stdout and to
// every node's log, so they must say the token changed without showing
// either value.
func TestAttackReloadHidesAdminToken(t *testing.T) {
	cfg := testConfig()
	cfg.Security.AdminToken = "old-admin-token-value"
	h, err := node.StartHerd(cfg, []string{"Alford"}, node.Options{Loops: 1})
	if err != nil {
		t.Fatal(err)
	}
	testclient.StopAtCleanup(t, h.Stop)
	next := testConfig()
	next.Security.AdminToken = "new-admin-token-value"
	notes, err := h.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(notes, "\n")
	if strings.Contains(all, "admin-token-value") {
		t.Errorf("reload notes show the admin token:\n%s", all)
	}
	if !strings.Contains(all, "security.admin_token changed") {
		t.Errorf("reload notes do not say the admin token changed:\n%s", all)
	}
}

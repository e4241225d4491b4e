package bootstrap_test

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/weirgitops/weir/internal/bootstrap"
	"github.com/weirgitops/weir/internal/testenv/githubapi"
)

// TestDeployKeyReadWrite adds a bootstrap deploy key through the GitHub API stand-in: read-only
// by default, with write access under --read-write-key (the key is replaced, not duplicated),
// and nothing changed when it already matches.
func TestDeployKeyReadWrite(t *testing.T) {
	const token = "ghp_deploykeys0123456789"
	gh := githubapi.Start(t, githubapi.Options{Tokens: map[string]string{token: "weir-bot"}, Organizations: []string{"hops-ops"}})
	client, err := bootstrap.NewGitHubClient(http.DefaultClient, gh.APIURL(), token)
	if err != nil {
		t.Fatal(err)
	}
	g := &bootstrap.GitHub{Client: client, Owner: "hops-ops", Repository: "keys", Private: true, Out: io.Discard}
	if _, err := g.EnsureRepository(t.Context()); err != nil {
		t.Fatal(err)
	}
	const public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl weir"
	ensure := func(readWrite bool) bool {
		t.Helper()
		g.ReadWriteKey = readWrite
		changed, err := g.EnsureDeployKey(t.Context(), "weir-flux-system-main", public)
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	state := func() githubapi.RepoState {
		t.Helper()
		st, ok := gh.State("hops-ops", "keys")
		if !ok {
			t.Fatal("repository missing")
		}
		return st
	}
	if !ensure(false) {
		t.Error("the first key was not added")
	}
	if st := state(); !slices.Equal(st.DeployKeys, []string{"weir-flux-system-main"}) || len(st.WritableKeys) != 0 {
		t.Errorf("default deploy key: %+v, want one read-only key", st)
	}
	if ensure(false) {
		t.Error("an unchanged read-only key was replaced")
	}
	if !ensure(true) {
		t.Error("--read-write-key did not replace the read-only key")
	}
	if st := state(); !slices.Equal(st.DeployKeys, []string{"weir-flux-system-main"}) || !slices.Equal(st.WritableKeys, st.DeployKeys) {
		t.Errorf("--read-write-key: %+v, want the one key writable", st)
	}
	if ensure(true) {
		t.Error("an unchanged writable key was replaced")
	}
}

package git_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/source/git"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

var obj = artifact.Object{Kind: "GitRepository", Namespace: "flux-system", Name: "podinfo"}

// fetchAndPackage is what the GitRepository reconciler does: fetch the tree,
// filter, archive.
func fetchAndPackage(tb testing.TB, store *artifact.Store, opts git.Options) (artifact.Record, *git.Checkout) {
	tb.Helper()
	dir := tb.TempDir()
	co, err := git.FetchTree(tb.Context(), dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	filter, err := git.NewFilter(dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	rec, err := store.Archive(tb.Context(), obj, co.Revision.Hash+".tar.gz", co.Revision.String(), dir, filter.Excluded)
	if err != nil {
		tb.Fatal(err)
	}
	return rec, co
}

func TestFetchAndPackage(t *testing.T) {
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("podinfo.git")
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	head := repo.Commit("main", "init", map[string]string{
		"kustomization.yaml":      "resources: [app.yaml]\n",
		"app.yaml":                "kind: Deployment\n",
		"logo.png":                "png",
		".github/workflows/x.yml": "on: push",
		".sourceignore":           "docs/\n",
		"docs/readme.md":          "docs",
		"alias.yaml":              gitserver.Symlink("app.yaml"),
		"escape-abs":              gitserver.Symlink(outside),
		"escape-rel":              gitserver.Symlink("../../../../../../../etc/passwd"),
	})
	sshSrv := root.ServeSSH()
	store, err := artifact.New(artifact.Options{Root: t.TempDir(), AdvertisedAddr: "localhost:9090"})
	if err != nil {
		t.Fatal(err)
	}
	opts := git.Options{
		URL:       sshSrv.RepoURL(repo.Name),
		Reference: git.Reference{Branch: "main"},
		Auth:      git.Auth{SSHPrivateKey: sshSrv.ClientKeyPEM, KnownHosts: sshSrv.KnownHosts},
	}
	rec, co := fetchAndPackage(t, store, opts)
	if rec.Revision != "main@sha1:"+head || co.Revision.Hash != head {
		t.Fatalf("revision %s", rec.Revision)
	}
	if want := fmt.Sprintf("gitrepository/flux-system/podinfo/%s.tar.gz", head); rec.Path != want {
		t.Fatalf("path %s, want %s", rec.Path, want)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := store.Extract(t.Context(), rec, out, artifact.Limits{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != out {
			rel, _ := filepath.Rel(out, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	want := []string{".sourceignore", "alias.yaml", "app.yaml", "kustomization.yaml"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("artifact holds %v, want %v", got, want)
	}
}

// BenchmarkLatestRevisionUnchanged measures the periodic check of a
// repository whose head has not moved: one reference listing over HTTP.
func BenchmarkLatestRevisionUnchanged(b *testing.B) {
	root := gitserver.NewRoot(b)
	repo := root.NewRepo("bench.git")
	files := map[string]string{}
	for i := range 100 {
		files[fmt.Sprintf("f%03d.yaml", i)] = "x"
	}
	head := repo.Commit("main", "init", files)
	for i := range 50 {
		repo.Tag(fmt.Sprintf("v1.0.%d", i), head)
	}
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "u", Password: "p"})
	opts := git.Options{URL: srv.RepoURL(repo.Name), Reference: git.Reference{Branch: "main"}, Auth: git.Auth{Username: "u", Password: "p"}}
	want := "main@sha1:" + head
	b.ResetTimer()
	for b.Loop() {
		rev, err := git.LatestRevision(b.Context(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if rev.String() != want {
			b.Fatalf("revision %s", rev)
		}
	}
}

// BenchmarkFetchAndPackage5000Files clones a repository of 5,000 files over
// HTTP and archives it into the store.
func BenchmarkFetchAndPackage5000Files(b *testing.B) {
	root := gitserver.NewRoot(b)
	repo := root.NewRepo("big.git")
	files := make(map[string]string, 5000)
	for i := range 5000 {
		files[fmt.Sprintf("apps/team%02d/app%04d/deploy.yaml", i%50, i)] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app%04d\nspec:\n  replicas: 1\n", i)
	}
	repo.Commit("main", "big", files)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	store, err := artifact.New(artifact.Options{Root: b.TempDir(), AdvertisedAddr: "localhost"})
	if err != nil {
		b.Fatal(err)
	}
	opts := git.Options{URL: srv.RepoURL(repo.Name), Reference: git.Reference{Branch: "main"}}
	b.ResetTimer()
	for b.Loop() {
		rec, _ := fetchAndPackage(b, store, opts)
		b.ReportMetric(float64(rec.Size), "artifact-bytes")
	}
}

package cli_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/<name>, after replacing the namespace with NS; -update
// rewrites the file.
func golden(t *testing.T, name, ns, got string) {
	t.Helper()
	got = strings.ReplaceAll(got, ns, "NS")
	// Column padding depends on the namespace's random name: compare cells, not padding.
	got = regexp.MustCompile(` +\t`).ReplaceAllString(got, "\t")
	got = regexp.MustCompile(`[ \t]+\n`).ReplaceAllString(got, "\n")
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file:\n--- want\n%s\n--- got\n%s", name, want, got)
	}
}

// setReady writes a Ready condition (and whatever else mutate sets) into an object's status.
func setReady(t *testing.T, obj client.Object, conds *[]metav1.Condition, status metav1.ConditionStatus, reason, msg string, mutate func()) {
	t.Helper()
	apimeta.SetStatusCondition(conds, metav1.Condition{Type: meta.ReadyCondition, Status: status,
		Reason: reason, Message: msg, ObservedGeneration: obj.GetGeneration()})
	if mutate != nil {
		mutate()
	}
	if err := env.Client.Status().Update(t.Context(), obj); err != nil {
		t.Fatalf("update status of %s: %v", obj.GetName(), err)
	}
}

func gitRepo(t *testing.T, ns, name string, suspend bool) *sourcev1.GitRepository {
	t.Helper()
	r := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: sourcev1.GitRepositorySpec{URL: "https://example.com/" + name, Interval: metav1.Duration{Duration: time.Minute},
			Reference: &sourcev1.GitRepositoryRef{Branch: "main"}, Suspend: suspend},
	}
	if err := env.Client.Create(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func artifact(rev string) *meta.Artifact {
	return &meta.Artifact{Path: "x.tar.gz", URL: "http://x/x.tar.gz", Revision: rev, Digest: "sha256:0000",
		LastUpdateTime: metav1.Now()}
}

func timeMinutes(n int) time.Duration { return time.Duration(n) * time.Minute }

package source_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// watchGitRepository returns every state of the GitRepository at key the API server reports
// from now on, until the test ends.
func watchGitRepository(t *testing.T, key client.ObjectKey) <-chan *sourcev1.GitRepository {
	t.Helper()
	wc, err := client.NewWithWatch(env.Config, client.Options{Scheme: env.Client.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	w, err := wc.Watch(ctx, &sourcev1.GitRepositoryList{}, client.InNamespace(key.Namespace))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); w.Stop() })
	out := make(chan *sourcev1.GitRepository, 64)
	go func() {
		defer close(out)
		for ev := range w.ResultChan() {
			o, ok := ev.Object.(*sourcev1.GitRepository)
			if !ok || ev.Type == watch.Error || o.Name != key.Name {
				continue
			}
			select {
			case out <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// TestGitRepositoryArtifactOutdatedAndSecretRotation checks two things Flux users watch for.
// A new upstream revision sets ArtifactOutdated=True (reason NewRevision, "new upstream
// revision '<rev>'") while the artifact is rebuilt, and the stored artifact removes it; a
// change of the included artifacts says IncludeChange first. A change of the Secret (rotated
// credentials) reconciles the GitRepository at once: its interval is an hour and no reconcile
// is requested, yet the new commit is stored.
func TestGitRepositoryArtifactOutdatedAndSecretRotation(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("app")
	first := repo.Commit("main", "first", map[string]string{"a.yaml": "a: 1\n"})
	lib := root.NewRepo("lib")
	lib.Commit("main", "lib", map[string]string{"lib.yaml": "l: 1\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: "old-pass", BearerToken: "new-token-9"})
	createSecret(t, ns, "auth", map[string][]byte{"username": []byte("git"), "password": []byte("old-pass")})

	libRepo := newGitRepository(ns, "lib", srv.RepoURL("lib"), &sourcev1.GitRepositoryRef{Branch: "main"}, "auth")
	if err := env.Client.Create(t.Context(), libRepo); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client.ObjectKeyFromObject(libRepo), metav1.ConditionTrue, nil)
	obj := newGitRepository(ns, "app", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "auth")
	obj.Spec.Include = []sourcev1.GitRepositoryInclude{{GitRepositoryRef: meta.LocalObjectReference{Name: "lib"}}}
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(obj)
	got := waitReady(t, key, metav1.ConditionTrue, revisionIs("main@sha1:"+first))
	if c := apimeta.FindStatusCondition(got.Status.Conditions, "ArtifactOutdated"); c != nil {
		t.Errorf("first artifact marked outdated: %+v", c)
	}

	// seen waits until the watch reports ArtifactOutdated with reason, message and then a
	// state with wantRevision stored and the condition gone.
	seen := func(states <-chan *sourcev1.GitRepository, reason, message, wantRevision string) {
		t.Helper()
		deadline := time.After(time.Minute)
		outdated := false
		for {
			select {
			case o, ok := <-states:
				if !ok {
					t.Fatal("the watch ended")
				}
				c := apimeta.FindStatusCondition(o.Status.Conditions, "ArtifactOutdated")
				if c != nil && c.Status == metav1.ConditionTrue && c.Reason == reason && c.Message == message {
					outdated = true
					if o.Status.Artifact == nil || o.Status.Artifact.Revision == wantRevision {
						t.Fatalf("ArtifactOutdated while the artifact is %+v", o.Status.Artifact)
					}
					continue
				}
				if outdated && c == nil && o.Status.Artifact != nil && o.Status.Artifact.Revision == wantRevision &&
					apimeta.IsStatusConditionTrue(o.Status.Conditions, "Ready") {
					return
				}
			case <-deadline:
				t.Fatalf("no ArtifactOutdated %s %q followed by revision %s (seen: %v)", reason, message, wantRevision, outdated)
			}
		}
	}

	// A new upstream revision.
	states := watchGitRepository(t, key)
	second := repo.Commit("main", "second", map[string]string{"a.yaml": "a: 2\n"})
	requestReconcile(t, key)
	seen(states, "NewRevision", "new upstream revision 'main@sha1:"+second+"'", "main@sha1:"+second)

	// An included artifact changes: IncludeChange, then the rebuilt artifact.
	states = watchGitRepository(t, key)
	before := got.Status.IncludedArtifacts
	lib.Commit("main", "lib 2", map[string]string{"lib.yaml": "l: 2\n"})
	requestReconcile(t, client.ObjectKeyFromObject(libRepo))
	deadline := time.After(time.Minute)
	for found := false; !found; {
		select {
		case o := <-states:
			c := apimeta.FindStatusCondition(o.Status.Conditions, "ArtifactOutdated")
			found = c != nil && c.Reason == "IncludeChange" && c.Message == "included artifacts differ from last observed includes"
		case <-deadline:
			t.Fatalf("no ArtifactOutdated IncludeChange (included artifacts were %v)", before)
		}
	}
	waitReady(t, key, metav1.ConditionTrue, func(o *sourcev1.GitRepository) error {
		if apimeta.FindStatusCondition(o.Status.Conditions, "ArtifactOutdated") != nil {
			return fmt.Errorf("ArtifactOutdated still set")
		}
		data, err := getArtifact(t, o)
		if err != nil {
			return err
		}
		if f := files(t, data); f["lib/lib.yaml"] != "l: 2\n" {
			return fmt.Errorf("included content %q", f["lib/lib.yaml"])
		}
		return nil
	})

	// Rotated credentials: the Secret now holds a token instead of the password. Nothing
	// else asks for a reconcile, and the interval is an hour.
	third := repo.Commit("main", "third", map[string]string{"a.yaml": "a: 3\n"})
	var s corev1.Secret
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "auth"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data = map[string][]byte{"bearerToken": []byte("new-token-9")}
	if err := env.Client.Update(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, key, metav1.ConditionTrue, revisionIs("main@sha1:"+third))
}

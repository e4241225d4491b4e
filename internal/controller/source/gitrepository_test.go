package source_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

func newGitRepository(ns, name, url string, ref *sourcev1.GitRepositoryRef, secret string) *sourcev1.GitRepository {
	obj := &sourcev1.GitRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sourcev1.GitRepositorySpec{
			URL:       url,
			Interval:  metav1.Duration{Duration: time.Hour},
			Reference: ref,
		},
	}
	if secret != "" {
		obj.Spec.SecretRef = &meta.LocalObjectReference{Name: secret}
	}
	return obj
}

func createSecret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data}
	if err := env.Client.Create(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}

// requestReconcile sets reconcile.fluxcd.io/requestedAt, as `weir reconcile` and Receivers do.
func requestReconcile(t *testing.T, key client.ObjectKey) string {
	t.Helper()
	at := time.Now().Format(time.RFC3339Nano)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, at)
	obj := &sourcev1.GitRepository{}
	obj.Namespace, obj.Name = key.Namespace, key.Name
	if err := env.Client.Patch(t.Context(), obj, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
	return at
}

func revisionIs(want string) func(*sourcev1.GitRepository) error {
	return func(o *sourcev1.GitRepository) error {
		if o.Status.Artifact == nil || o.Status.Artifact.Revision != want {
			return fmt.Errorf("artifact %+v, want revision %s", o.Status.Artifact, want)
		}
		return nil
	}
}

// files lists the regular files and symlinks of a tar.gz artifact.
func files(t *testing.T, data []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		case tar.TypeSymlink:
			out[h.Name] = "-> " + h.Linkname
		}
	}
}

func TestGitRepositoryBasicAuthNewCommitsAndTags(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("app")
	first := repo.Commit("main", "first commit", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: "s3cret-pass"})
	createSecret(t, ns, "auth", map[string][]byte{"username": []byte("git"), "password": []byte("s3cret-pass")})

	obj := newGitRepository(ns, "app", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "auth")
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(obj)
	got := waitReady(t, key, metav1.ConditionTrue, revisionIs("main@sha1:"+first))
	if !strings.HasPrefix(got.Status.Artifact.Path, "gitrepository/"+ns+"/app/") || !strings.HasSuffix(got.Status.Artifact.Path, first+".tar.gz") {
		t.Errorf("artifact path %q", got.Status.Artifact.Path)
	}
	if msg := apimeta.FindStatusCondition(got.Status.Conditions, "Ready").Message; msg != "stored artifact for revision 'main@sha1:"+first+"'" {
		t.Errorf("Ready message %q", msg)
	}
	if !controllerHasFinalizer(got) {
		t.Errorf("finalizers %v lack finalizers.fluxcd.io", got.Finalizers)
	}
	if f := files(t, fetchArtifact(t, got)); f["deploy/cm.yaml"] != "kind: ConfigMap\n" {
		t.Errorf("artifact files %v", f)
	}

	// A new commit shows up on a reconcile request.
	second := repo.Commit("main", "second commit", map[string]string{"deploy/cm.yaml": "kind: ConfigMap\nv: 2\n"})
	at := requestReconcile(t, key)
	got = waitReady(t, key, metav1.ConditionTrue, func(o *sourcev1.GitRepository) error {
		if o.Status.LastHandledReconcileAt != at {
			return fmt.Errorf("lastHandledReconcileAt %q, want %q", o.Status.LastHandledReconcileAt, at)
		}
		return revisionIs("main@sha1:" + second)(o)
	})

	// An unchanged head costs a ref listing and stores nothing new.
	before := got.Status.Artifact.LastUpdateTime
	requests := srv.Requests()
	at = requestReconcile(t, key)
	got = waitReady(t, key, metav1.ConditionTrue, func(o *sourcev1.GitRepository) error {
		if o.Status.LastHandledReconcileAt != at {
			return fmt.Errorf("lastHandledReconcileAt %q, want %q", o.Status.LastHandledReconcileAt, at)
		}
		return nil
	})
	if !got.Status.Artifact.LastUpdateTime.Equal(&before) {
		t.Errorf("unchanged head rewrote the artifact")
	}
	if n := srv.Requests() - requests; n > 2 {
		t.Errorf("unchanged head made %d HTTP requests, want a single ref listing", n)
	}

	// Tags and semver ranges.
	repo.Tag("v1.0.0", first)
	repo.Tag("v1.2.0", second)
	repo.Tag("v2.0.0", second)
	tagged := newGitRepository(ns, "tagged", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{SemVer: ">=1.0.0 <2.0.0"}, "auth")
	if err := env.Client.Create(t.Context(), tagged); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client.ObjectKeyFromObject(tagged), metav1.ConditionTrue, revisionIs("v1.2.0@sha1:"+second))

	// A pinned commit.
	pinned := newGitRepository(ns, "pinned", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Commit: first}, "auth")
	if err := env.Client.Create(t.Context(), pinned); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client.ObjectKeyFromObject(pinned), metav1.ConditionTrue, revisionIs("sha1:"+first))
}

func controllerHasFinalizer(o *sourcev1.GitRepository) bool {
	for _, f := range o.Finalizers {
		if f == "finalizers.fluxcd.io" {
			return true
		}
	}
	return false
}

func TestGitRepositoryBadInputKeepsLastArtifact(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("app")
	first := repo.Commit("main", "first", map[string]string{"a.yaml": "a: 1\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: "right-password"})
	createSecret(t, ns, "auth", map[string][]byte{"username": []byte("git"), "password": []byte("right-password")})
	obj := newGitRepository(ns, "app", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "auth")
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(obj)
	good := waitReady(t, key, metav1.ConditionTrue, revisionIs("main@sha1:"+first))

	// Wrong credentials: AuthenticationFailed, no secret in the message, last artifact served.
	var secret corev1.Secret
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "auth"}, &secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["password"] = []byte("wrong-password-xyz")
	if err := env.Client.Update(t.Context(), &secret); err != nil {
		t.Fatal(err)
	}
	repo.Commit("main", "second", map[string]string{"a.yaml": "a: 2\n"})
	requestReconcile(t, key)
	failed := waitReady(t, key, metav1.ConditionFalse, nil)
	ready := apimeta.FindStatusCondition(failed.Status.Conditions, "Ready")
	if ready.Reason != "AuthenticationFailed" {
		t.Errorf("reason %q, want AuthenticationFailed (%s)", ready.Reason, ready.Message)
	}
	if strings.Contains(ready.Message, "wrong-password-xyz") {
		t.Errorf("message leaks the password: %s", ready.Message)
	}
	if c := apimeta.FindStatusCondition(failed.Status.Conditions, "FetchFailed"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("FetchFailed = %+v", c)
	}
	if failed.Status.Artifact == nil || failed.Status.Artifact.Revision != good.Status.Artifact.Revision {
		t.Fatalf("artifact changed after a failure: %+v", failed.Status.Artifact)
	}
	fetchArtifact(t, failed)

	cases := []struct {
		name       string
		mutate     func(*sourcev1.GitRepository)
		wantReason string
		wantInMsg  string
	}{
		{"unknown branch", func(o *sourcev1.GitRepository) {
			o.Spec.Reference = &sourcev1.GitRepositoryRef{Branch: "no-such-branch"}
		}, "GitOperationFailed", "no-such-branch"},
		{"missing secret", func(o *sourcev1.GitRepository) {
			o.Spec.SecretRef = &meta.LocalObjectReference{Name: "absent"}
		}, "AuthenticationFailed", "absent"},
		{"unreachable host", func(o *sourcev1.GitRepository) {
			o.Spec.URL = "http://127.0.0.1:1/app"
			o.Spec.SecretRef = nil
		}, "GitOperationFailed", "127.0.0.1:1"},
		{"malformed url", func(o *sourcev1.GitRepository) {
			o.Spec.URL = "http://bad host/repo"
		}, "URLInvalid", "invalid repository url"},
	}
	createSecret(t, ns, "auth-good", map[string][]byte{"username": []byte("git"), "password": []byte("right-password")})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newGitRepository(ns, strings.ReplaceAll(tc.name, " ", "-"), srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "auth-good")
			tc.mutate(o)
			if err := env.Client.Create(t.Context(), o); err != nil {
				t.Fatal(err)
			}
			got := waitReady(t, client.ObjectKeyFromObject(o), metav1.ConditionFalse, nil)
			c := apimeta.FindStatusCondition(got.Status.Conditions, "Ready")
			if c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantInMsg) {
				t.Errorf("Ready = %s: %s; want reason %s naming %q", c.Reason, c.Message, tc.wantReason, tc.wantInMsg)
			}
		})
	}
}

func TestGitRepositorySSHDefaultBranchSymlinksAndDeletion(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("infra")
	head := repo.Commit("master", "tree with links", map[string]string{
		"app/deploy.yaml": "kind: Deployment\n",
		"app/link.yaml":   gitserver.Symlink("deploy.yaml"),
		"app/escape.yaml": gitserver.Symlink("../../../etc/passwd"),
		"app/absolute":    gitserver.Symlink("/etc/passwd"),
		".github/ci.yaml": "ci: true\n",
		"docs/readme.md":  "docs\n",
		".sourceignore":   "docs/\n",
	})
	srv := root.ServeSSH()
	createSecret(t, ns, "ssh", map[string][]byte{"identity": srv.ClientKeyPEM, "known_hosts": srv.KnownHosts})
	obj := newGitRepository(ns, "infra", srv.RepoURL("infra"), nil, "ssh")
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(obj)
	got := waitReady(t, key, metav1.ConditionTrue, revisionIs("master@sha1:"+head))
	f := files(t, fetchArtifact(t, got))
	if f["app/deploy.yaml"] != "kind: Deployment\n" {
		t.Errorf("deploy.yaml missing: %v", f)
	}
	for _, name := range []string{"app/escape.yaml", "app/absolute", ".github/ci.yaml", "docs/readme.md"} {
		if _, ok := f[name]; ok {
			t.Errorf("artifact holds %s: %v", name, f)
		}
	}

	// A wrong host key is refused.
	other := gitserver.NewRoot(t).ServeSSH()
	createSecret(t, ns, "wrong-host", map[string][]byte{"identity": srv.ClientKeyPEM, "known_hosts": other.KnownHosts})
	bad := newGitRepository(ns, "wrong-host", srv.RepoURL("infra"), nil, "wrong-host")
	if err := env.Client.Create(t.Context(), bad); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client.ObjectKeyFromObject(bad), metav1.ConditionFalse, nil)

	// Deleting the object removes its artifacts and lets it go.
	url := got.Status.Artifact.URL
	if err := env.Client.Delete(t.Context(), got); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		err := env.Client.Get(t.Context(), key, &sourcev1.GitRepository{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("still present: %w", err)
		}
		code, err := testenv.HTTPGet(t.Context(), url)
		if err != nil {
			return err
		}
		if code != 404 {
			return fmt.Errorf("artifact still served: %d", code)
		}
		return nil
	})
}

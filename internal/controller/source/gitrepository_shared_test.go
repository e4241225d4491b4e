package source_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// createGitRepositories creates count GitRepositories called <prefix>-<i> from template.
func createGitRepositories(t *testing.T, template *sourcev1.GitRepository, prefix string, count int) []*sourcev1.GitRepository {
	t.Helper()
	objs := make([]*sourcev1.GitRepository, 0, count)
	for i := range count {
		o := template.DeepCopy()
		o.Name = fmt.Sprintf("%s-%d", prefix, i)
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	return objs
}

// waitNewArtifactEvent waits for a NewArtifact event of the GitRepository whose message has
// want in it.
func waitNewArtifactEvent(t *testing.T, obj client.Object, want string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		var events corev1.EventList
		if err := env.Client.List(t.Context(), &events, client.InNamespace(obj.GetNamespace())); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == obj.GetName() && e.InvolvedObject.Kind == sourcev1.GitRepositoryKind &&
				e.Reason == "NewArtifact" && strings.Contains(e.Message, want) {
				return nil
			}
		}
		return fmt.Errorf("no NewArtifact event of %s with %q", obj.GetName(), want)
	})
}

// TestGitRepositoriesShareOneFetch points many GitRepositories at one URL, with equal
// credentials in two namespaces: the Git server sends the objects once per distinct artifact
// (one GitRepository ignores a directory, so two), every GitRepository still gets its own
// artifact, with the same digest as the others of its content, and its NewArtifact event.
func TestGitRepositoriesShareOneFetch(t *testing.T) {
	ns, other := env.Namespace(t), env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("fleet")
	head := repo.Commit("main", "fleet", map[string]string{"apps/app.yaml": "kind: App\n", "infra/infra.yaml": "kind: Infra\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: "fleet-pass"})
	creds := map[string][]byte{"username": []byte("git"), "password": []byte("fleet-pass")}
	createSecret(t, ns, "auth", creds)
	createSecret(t, other, "auth", creds)

	const count = 8
	template := newGitRepository(ns, "", srv.RepoURL("fleet"), &sourcev1.GitRepositoryRef{Branch: "main"}, "auth")
	objs := createGitRepositories(t, template, "fleet", count)
	ignoring := template.DeepCopy()
	ignoring.Name, ignoring.Spec.Ignore = "apps-only", ptr("/infra/\n")
	elsewhere := template.DeepCopy()
	elsewhere.Namespace, elsewhere.Name = other, "fleet"
	for _, o := range []*sourcev1.GitRepository{ignoring, elsewhere} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}

	want := "main@sha1:" + head
	digest := ""
	for _, o := range append(objs, elsewhere) {
		got := waitReady(t, client.ObjectKeyFromObject(o), metav1.ConditionTrue, revisionIs(want))
		if p := got.Status.Artifact.Path; !strings.HasPrefix(p, "gitrepository/"+o.Namespace+"/"+o.Name+"/") {
			t.Errorf("%s/%s: artifact path %q is not its own", o.Namespace, o.Name, p)
		}
		f := files(t, fetchArtifact(t, got))
		if f["apps/app.yaml"] != "kind: App\n" || f["infra/infra.yaml"] != "kind: Infra\n" {
			t.Errorf("%s/%s: artifact files %v", o.Namespace, o.Name, f)
		}
		if digest == "" {
			digest = got.Status.Artifact.Digest
		} else if got.Status.Artifact.Digest != digest {
			t.Errorf("%s/%s: digest %s, the others' %s", o.Namespace, o.Name, got.Status.Artifact.Digest, digest)
		}
		waitNewArtifactEvent(t, o, "stored artifact for commit 'fleet'")
	}
	got := waitReady(t, client.ObjectKeyFromObject(ignoring), metav1.ConditionTrue, revisionIs(want))
	if f := files(t, fetchArtifact(t, got)); f["apps/app.yaml"] != "kind: App\n" || f["infra/infra.yaml"] != "" {
		t.Errorf("apps-only: artifact files %v, want apps/ only", f)
	}

	fetches := srv.UploadPacks()
	t.Logf("%d GitRepositories, %d fetches", count+2, fetches)
	if fetches < 2 || fetches >= count {
		t.Errorf("%d fetches for %d GitRepositories of two contents, want one per content", fetches, count+2)
	}
}

// TestGitRepositoriesSharedFetchFollowsAPush pushes a commit to a repository many GitRepositories
// share: after a reconcile request each has the new revision and a NewArtifact event for it,
// fetched once for all of them.
func TestGitRepositoriesSharedFetchFollowsAPush(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("fleet")
	first := repo.Commit("main", "first", map[string]string{"app.yaml": "version: 1\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})

	const count = 6
	objs := createGitRepositories(t, newGitRepository(ns, "", srv.RepoURL("fleet"), &sourcev1.GitRepositoryRef{Branch: "main"}, ""), "fleet", count)
	for _, o := range objs {
		waitReady(t, client.ObjectKeyFromObject(o), metav1.ConditionTrue, revisionIs("main@sha1:"+first))
	}
	before := srv.UploadPacks()

	second := repo.Commit("main", "second", map[string]string{"app.yaml": "version: 2\n"})
	for _, o := range objs {
		requestReconcile(t, client.ObjectKeyFromObject(o))
	}
	for _, o := range objs {
		got := waitReady(t, client.ObjectKeyFromObject(o), metav1.ConditionTrue, revisionIs("main@sha1:"+second))
		if f := files(t, fetchArtifact(t, got)); f["app.yaml"] != "version: 2\n" {
			t.Errorf("%s: artifact files %v", o.Name, f)
		}
		waitNewArtifactEvent(t, o, "stored artifact for commit 'second'")
	}
	if fetches := srv.UploadPacks() - before; fetches < 1 || fetches >= count {
		t.Errorf("%d fetches of the new commit for %d GitRepositories, want one", fetches, count)
	}
}

// TestGitRepositorySharedFetchNeedsOwnCredentials stores an artifact for a GitRepository with
// good credentials, then points others at the same URL and revision: a wrong password, the
// same with a commit reference (which lists no references first), and no Secret in another
// namespace all fail authentication and get no artifact. Verification runs per GitRepository
// with its own keys even when the fetch is shared: an untrusted key fails.
func TestGitRepositorySharedFetchNeedsOwnCredentials(t *testing.T) {
	ns, other := env.Namespace(t), env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("private")
	repo.Commit("main", "private", map[string]string{"secret.yaml": "kind: Private\n"})
	team := root.NewPGPKey("team")
	head := repo.SignHead("main", team)
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: "right-pass"})
	createSecret(t, ns, "good", map[string][]byte{"username": []byte("git"), "password": []byte("right-pass")})
	createSecret(t, ns, "bad", map[string][]byte{"username": []byte("git"), "password": []byte("wrong-pass")})
	createSecret(t, ns, "trusted", map[string][]byte{"team.asc": team.PublicArmored})
	createSecret(t, ns, "untrusted", map[string][]byte{"stranger.asc": root.NewPGPKey("stranger").PublicArmored})

	url := srv.RepoURL("private")
	good := newGitRepository(ns, "good", url, &sourcev1.GitRepositoryRef{Branch: "main"}, "good")
	good.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: "HEAD", SecretRef: meta.LocalObjectReference{Name: "trusted"}}
	if err := env.Client.Create(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client.ObjectKeyFromObject(good), metav1.ConditionTrue, revisionIs("main@sha1:"+head))
	fetches := srv.UploadPacks()

	wrongBranch := newGitRepository(ns, "wrong-branch", url, &sourcev1.GitRepositoryRef{Branch: "main"}, "bad")
	wrongCommit := newGitRepository(ns, "wrong-commit", url, &sourcev1.GitRepositoryRef{Branch: "main", Commit: head}, "bad")
	anonymous := newGitRepository(other, "anonymous", url, &sourcev1.GitRepositoryRef{Branch: "main"}, "")
	for _, o := range []*sourcev1.GitRepository{wrongBranch, wrongCommit, anonymous} {
		o.Spec.Verification = good.Spec.Verification.DeepCopy()
		if o.Namespace != ns {
			o.Spec.Verification = nil
		}
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
		got := waitReady(t, client.ObjectKeyFromObject(o), metav1.ConditionFalse, nil)
		if r := apimeta.FindStatusCondition(got.Status.Conditions, "Ready"); r.Reason != "AuthenticationFailed" {
			t.Errorf("%s: Ready reason %q (%s), want AuthenticationFailed", o.Name, r.Reason, r.Message)
		}
		if got.Status.Artifact != nil {
			t.Errorf("%s: got an artifact without the credentials: %+v", o.Name, got.Status.Artifact)
		}
	}

	// Same URL, revision, credentials and verification mode as good: its artifact is copied,
	// after this GitRepository's own keys refused the commit.
	stranger := good.DeepCopy()
	stranger.ObjectMeta = metav1.ObjectMeta{Namespace: ns, Name: "stranger"}
	stranger.Spec.Verification.SecretRef.Name = "untrusted"
	if err := env.Client.Create(t.Context(), stranger); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, client.ObjectKeyFromObject(stranger), metav1.ConditionFalse, nil)
	if c := apimeta.FindStatusCondition(got.Status.Conditions, "SourceVerified"); c == nil || c.Status != metav1.ConditionFalse ||
		c.Reason != "VerificationError" {
		t.Errorf("SourceVerified = %+v, want False with VerificationError", c)
	}
	if got.Status.Artifact != nil {
		t.Errorf("an unverified commit was stored: %+v", got.Status.Artifact)
	}
	// No GitRepository after the first fetched: the failures came from their own credentials
	// and keys, with the first one's fetch at hand.
	if n := srv.UploadPacks() - fetches; n != 0 {
		t.Errorf("%d fetches after the first GitRepository's, want none", n)
	}
}

func ptr[T any](v T) *T { return &v }

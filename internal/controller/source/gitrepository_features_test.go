package source_test

import (
	"fmt"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestGitRepositoryTLSBearerIncludeAndVerify covers HTTPS with a private CA and a bearer
// token, spec.include (re-triggered when the included repository changes), and OpenPGP
// verification of the HEAD commit, good and bad.
func TestGitRepositoryTLSBearerIncludeAndVerify(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	lib := root.NewRepo("lib")
	lib.Commit("main", "lib", map[string]string{"shared/base.yaml": "kind: Base\n"})
	app := root.NewRepo("app")
	key := root.NewPGPKey("release bot")
	app.Commit("main", "app", map[string]string{"app.yaml": "kind: App\n"})
	signed := app.SignHead("main", key)
	srv := root.ServeHTTP(gitserver.HTTPOptions{BearerToken: "tok-123", TLS: true})
	createSecret(t, ns, "https", map[string][]byte{"bearerToken": []byte("tok-123"), "ca.crt": srv.CAPEM})

	libRepo := newGitRepository(ns, "lib", srv.RepoURL("lib"), &sourcev1.GitRepositoryRef{Branch: "main"}, "https")
	if err := env.Client.Create(t.Context(), libRepo); err != nil {
		t.Fatal(err)
	}
	appRepo := newGitRepository(ns, "app", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "https")
	appRepo.Spec.Include = []sourcev1.GitRepositoryInclude{{GitRepositoryRef: meta.LocalObjectReference{Name: "lib"}, FromPath: "shared", ToPath: "vendor/lib"}}
	if err := env.Client.Create(t.Context(), appRepo); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, client.ObjectKeyFromObject(appRepo), metav1.ConditionTrue, revisionIs("main@sha1:"+signed))
	if f := files(t, fetchArtifact(t, got)); f["vendor/lib/base.yaml"] != "kind: Base\n" || f["app.yaml"] != "kind: App\n" {
		t.Errorf("artifact with include: %v", f)
	}
	if len(got.Status.IncludedArtifacts) != 1 {
		t.Errorf("includedArtifacts %v", got.Status.IncludedArtifacts)
	}

	// A change to the included repository re-triggers the includer.
	lib.Commit("main", "lib v2", map[string]string{"shared/base.yaml": "kind: Base\nv: 2\n"})
	requestReconcile(t, client.ObjectKeyFromObject(libRepo))
	waitReady(t, client.ObjectKeyFromObject(appRepo), metav1.ConditionTrue, func(o *sourcev1.GitRepository) error {
		data, err := getArtifact(t, o)
		if err != nil {
			return err
		}
		if f := files(t, data); f["vendor/lib/base.yaml"] != "kind: Base\nv: 2\n" {
			return fmt.Errorf("included content not updated: %q", f["vendor/lib/base.yaml"])
		}
		return nil
	})

	// Verification: the signed HEAD verifies with the right key, not with another.
	createSecret(t, ns, "keys", map[string][]byte{"release.asc": key.PublicArmored})
	createSecret(t, ns, "other-keys", map[string][]byte{"other.asc": root.NewPGPKey("someone else").PublicArmored})
	verified := newGitRepository(ns, "verified", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "https")
	verified.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: "HEAD", SecretRef: meta.LocalObjectReference{Name: "keys"}}
	rejected := newGitRepository(ns, "rejected", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "https")
	rejected.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: "HEAD", SecretRef: meta.LocalObjectReference{Name: "other-keys"}}
	for _, o := range []*sourcev1.GitRepository{verified, rejected} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	ok := waitReady(t, client.ObjectKeyFromObject(verified), metav1.ConditionTrue, nil)
	if c := apimeta.FindStatusCondition(ok.Status.Conditions, "SourceVerified"); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("SourceVerified = %+v", c)
	}
	bad := waitReady(t, client.ObjectKeyFromObject(rejected), metav1.ConditionFalse, nil)
	if c := apimeta.FindStatusCondition(bad.Status.Conditions, "SourceVerified"); c == nil || c.Status != metav1.ConditionFalse {
		t.Errorf("SourceVerified = %+v", c)
	}
	if bad.Status.Artifact != nil {
		t.Errorf("an unverified commit was stored: %+v", bad.Status.Artifact)
	}
}

package source_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestGitRepositorySSHVerification verifies SSH signatures made by git (Flux 2.9): a signed
// HEAD and a signed tag with the keys of a Secret's .sshpub entry, beside OpenPGP keys; a
// signature by an untrusted key leaves SourceVerified=False and stores nothing, and trusting
// the key in the Secret lets the next reconcile store the commit.
func TestGitRepositorySSHVerification(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("app")
	release := root.NewSSHSigningKey("release-bot")
	stranger := root.NewSSHSigningKey("stranger")
	repo.Commit("main", "app", map[string]string{"app.yaml": "kind: App\n"})
	signed := repo.SSHSignHead("main", release)
	repo.SSHSignedTag("v1.0.0", signed, "release 1.0.0", release)
	repo.Commit("other", "other", map[string]string{"app.yaml": "kind: Other\n"})
	strangers := repo.SSHSignHead("other", stranger)
	srv := root.ServeHTTP(gitserver.HTTPOptions{})

	createSecret(t, ns, "keys", map[string][]byte{
		"release.sshpub": release.AuthorizedKey,
		"team.asc":       root.NewPGPKey("team").PublicArmored,
	})
	head := newGitRepository(ns, "head", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "")
	head.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: "HEAD", SecretRef: meta.LocalObjectReference{Name: "keys"}}
	tag := newGitRepository(ns, "tag", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Tag: "v1.0.0"}, "")
	tag.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: "TagAndHEAD", SecretRef: meta.LocalObjectReference{Name: "keys"}}
	untrusted := newGitRepository(ns, "untrusted", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "other"}, "")
	untrusted.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: "HEAD", SecretRef: meta.LocalObjectReference{Name: "keys"}}
	for _, o := range []*sourcev1.GitRepository{head, tag, untrusted} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}

	verifiedBy := func(want ...string) func(*sourcev1.GitRepository) error {
		return func(o *sourcev1.GitRepository) error {
			c := apimeta.FindStatusCondition(o.Status.Conditions, "SourceVerified")
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != "Succeeded" {
				return fmt.Errorf("SourceVerified = %+v", c)
			}
			for _, w := range want {
				if !strings.Contains(c.Message, w) {
					return fmt.Errorf("SourceVerified message %q lacks %q", c.Message, w)
				}
			}
			return nil
		}
	}
	got := waitReady(t, client.ObjectKeyFromObject(head), metav1.ConditionTrue, verifiedBy(release.Fingerprint, signed))
	if got.Status.SourceVerificationMode == nil || *got.Status.SourceVerificationMode != "HEAD" {
		t.Errorf("sourceVerificationMode = %v", got.Status.SourceVerificationMode)
	}
	waitReady(t, client.ObjectKeyFromObject(tag), metav1.ConditionTrue, func(o *sourcev1.GitRepository) error {
		if err := revisionIs("v1.0.0@sha1:" + signed)(o); err != nil {
			return err
		}
		return verifiedBy("tag 'v1.0.0'", "commit '"+signed+"'", release.Fingerprint)(o)
	})

	bad := waitReady(t, client.ObjectKeyFromObject(untrusted), metav1.ConditionFalse, nil)
	if c := apimeta.FindStatusCondition(bad.Status.Conditions, "SourceVerified"); c == nil || c.Status != metav1.ConditionFalse ||
		!strings.Contains(c.Message, stranger.Fingerprint) {
		t.Errorf("SourceVerified = %+v, want False naming the signer's key", c)
	}
	if bad.Status.Artifact != nil {
		t.Errorf("an unverified commit was stored: %+v", bad.Status.Artifact)
	}

	// Trusting the stranger's key (a second .sshpub entry) lets the commit in.
	var s corev1.Secret
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "keys"}, &s); err != nil {
		t.Fatal(err)
	}
	s.Data["stranger.sshpub"] = stranger.AuthorizedKey
	if err := env.Client.Update(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client.ObjectKeyFromObject(untrusted), metav1.ConditionTrue, func(o *sourcev1.GitRepository) error {
		if err := revisionIs("other@sha1:" + strangers)(o); err != nil {
			return err
		}
		return verifiedBy(stranger.Fingerprint)(o)
	})

	// A malformed .sshpub entry is named, not quoted.
	createSecret(t, ns, "broken", map[string][]byte{"broken.sshpub": []byte("ssh-ed25519 garbage-not-a-key\n")})
	broken := newGitRepository(ns, "broken", srv.RepoURL("app"), &sourcev1.GitRepositoryRef{Branch: "main"}, "")
	broken.Spec.Verification = &sourcev1.GitRepositoryVerification{Mode: "HEAD", SecretRef: meta.LocalObjectReference{Name: "broken"}}
	if err := env.Client.Create(t.Context(), broken); err != nil {
		t.Fatal(err)
	}
	b := waitReady(t, client.ObjectKeyFromObject(broken), metav1.ConditionFalse, nil)
	if c := apimeta.FindStatusCondition(b.Status.Conditions, "SourceVerified"); c == nil ||
		!strings.Contains(c.Message, "broken.sshpub") || strings.Contains(c.Message, "garbage") {
		t.Errorf("SourceVerified = %+v, want it to name broken.sshpub without quoting it", c)
	}
}

package source_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestGitRepositoryHidesURLCredentials puts tokens in the userinfo of GitRepository URLs that
// fail in different ways; neither the token nor the password appears in the status, the
// events or the controller's log.
func TestGitRepositoryHidesURLCredentials(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	root.NewRepo("app").Commit("main", "first", map[string]string{"cm.yaml": "kind: ConfigMap\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: "right-password"})
	closed, err := testenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.RepoURL("app"), "http://")
	cases := []struct{ name, url, secret string }{
		{"token-as-user-refused", "http://ghp_tokenAsUser0123456789@" + host, "ghp_tokenAsUser0123456789"},
		{"user-and-password-refused", "http://git:wrongPassw0rd-xyz@" + host, "wrongPassw0rd-xyz"},
		{"token-unreachable", "http://ghp_tokenUnreachable987654@" + closed + "/app", "ghp_tokenUnreachable987654"},
		{"token-unknown-branch", "http://git:right-password@" + host, "right-password"},
	}
	for _, c := range cases {
		ref := &sourcev1.GitRepositoryRef{Branch: "main"}
		if c.name == "token-unknown-branch" {
			ref.Branch = "no-such-branch"
		}
		if err := env.Client.Create(t.Context(), newGitRepository(ns, c.name, c.url, ref, "")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := client.ObjectKey{Namespace: ns, Name: c.name}
			var obj sourcev1.GitRepository
			testenv.Eventually(t, time.Minute, func() error {
				if err := env.Client.Get(t.Context(), key, &obj); err != nil {
					return err
				}
				if cond := apimeta.FindStatusCondition(obj.Status.Conditions, "Ready"); cond == nil || cond.Status != metav1.ConditionFalse {
					return fmt.Errorf("Ready = %+v, want False", cond)
				}
				return nil
			})
			t.Logf("Ready: %s", apimeta.FindStatusCondition(obj.Status.Conditions, "Ready").Message)
			for _, cond := range obj.Status.Conditions {
				if strings.Contains(cond.Message, c.secret) {
					t.Errorf("condition %s leaks the credential: %s", cond.Type, cond.Message)
				}
			}
			testenv.Eventually(t, 30*time.Second, func() error {
				var events corev1.EventList
				if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
					return err
				}
				found := false
				for _, e := range events.Items {
					if e.InvolvedObject.Name != c.name {
						continue
					}
					found = true
					if strings.Contains(e.Message, c.secret) {
						t.Errorf("event leaks the credential: %s", e.Message)
					}
				}
				if !found {
					return fmt.Errorf("no event about %s yet", c.name)
				}
				return nil
			})
			if logs := env.Logs(); strings.Contains(logs, c.secret) {
				t.Errorf("the controller log leaks the credential %q", c.secret)
			}
		})
	}
}

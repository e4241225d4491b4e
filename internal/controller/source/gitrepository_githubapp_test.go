package source_test

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/git"
	"github.com/weirgitops/weir/internal/testenv/githubapp"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/proxy"
)

// TestGitRepositoryGitHubAppEnterprise authenticates with a GitHub App (provider github) to a
// GitHub Enterprise Server stand-in whose Git service and API share a private CA, through the
// proxy of spec.proxySecretRef: the installation is found by owner, its token fetches the
// repository, and both the API and Git traffic go through the proxy. Misconfigured providers
// fail with InvalidProviderConfiguration.
func TestGitRepositoryGitHubAppEnterprise(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("org/private")
	head := repo.Commit("main", "init", map[string]string{"app.yaml": "kind: App\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{TLS: true, Username: git.GitHubAppUsername, Password: githubapp.Token(42, 1)})
	api := githubapp.Start(t, githubapp.Options{AppID: 7, TLS: &srv.TLSCertificate, Organizations: map[string]int64{"WeirOrg": 42}})
	p := proxy.Start(t, proxy.Options{Username: "proxy-user", Password: "proxy-pass-42"})

	createSecret(t, ns, "app", map[string][]byte{
		"githubAppID":                []byte(strconv.Itoa(7)),
		"githubAppInstallationOwner": []byte("WeirOrg"),
		"githubAppPrivateKey":        api.PrivateKeyPEM,
		"githubAppBaseURL":           []byte(api.APIURL()),
		"ca.crt":                     srv.CAPEM,
	})
	createSecret(t, ns, "proxy", map[string][]byte{
		"address": []byte(p.URL), "username": []byte("proxy-user"), "password": []byte("proxy-pass-42"),
	})
	obj := newGitRepository(ns, "ghe", srv.RepoURL(repo.Name), &sourcev1.GitRepositoryRef{Branch: "main"}, "app")
	obj.Spec.Provider = sourcev1.GitProviderGitHub
	obj.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"}
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, client.ObjectKeyFromObject(obj), metav1.ConditionTrue, revisionIs("main@sha1:"+head))
	if f := files(t, fetchArtifact(t, got)); f["app.yaml"] != "kind: App\n" {
		t.Errorf("artifact files %v", f)
	}
	for name, raw := range map[string]string{"API": api.URL, "Git": srv.URL} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Served(u.Host) {
			t.Errorf("the %s was not reached through the proxy: %v", name, p.Targets())
		}
	}
	if api.Minted(42) != 1 {
		t.Errorf("%d tokens minted, want 1", api.Minted(42))
	}

	cases := []struct {
		name, secret string
		provider     string
		wantStalled  bool
	}{
		{name: "github-without-secret", provider: sourcev1.GitProviderGitHub, wantStalled: true},
		{name: "app-keys-without-provider", secret: "app"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := newGitRepository(ns, tc.name, srv.RepoURL(repo.Name), &sourcev1.GitRepositoryRef{Branch: "main"}, tc.secret)
			o.Spec.Provider = tc.provider
			if err := env.Client.Create(t.Context(), o); err != nil {
				t.Fatal(err)
			}
			bad := waitReady(t, client.ObjectKeyFromObject(o), metav1.ConditionFalse, nil)
			ready := apimeta.FindStatusCondition(bad.Status.Conditions, "Ready")
			if ready.Reason != "InvalidProviderConfiguration" {
				t.Errorf("Ready = %s: %s, want InvalidProviderConfiguration", ready.Reason, ready.Message)
			}
			if c := apimeta.FindStatusCondition(bad.Status.Conditions, "FetchFailed"); c == nil || c.Status != metav1.ConditionTrue {
				t.Errorf("FetchFailed = %+v", c)
			}
			stalled := apimeta.IsStatusConditionTrue(bad.Status.Conditions, "Stalled")
			if stalled != tc.wantStalled {
				t.Errorf("Stalled = %v, want %v", stalled, tc.wantStalled)
			}
		})
	}

	// A wrong installation owner is an authentication failure that names no secret.
	createSecret(t, ns, "app-nobody", map[string][]byte{
		"githubAppID":                []byte("7"),
		"githubAppInstallationOwner": []byte("nobody"),
		"githubAppPrivateKey":        api.PrivateKeyPEM,
		"githubAppBaseURL":           []byte(api.APIURL()),
		"ca.crt":                     srv.CAPEM,
	})
	nobody := newGitRepository(ns, "nobody", srv.RepoURL(repo.Name), &sourcev1.GitRepositoryRef{Branch: "main"}, "app-nobody")
	nobody.Spec.Provider = sourcev1.GitProviderGitHub
	if err := env.Client.Create(t.Context(), nobody); err != nil {
		t.Fatal(err)
	}
	bad := waitReady(t, client.ObjectKeyFromObject(nobody), metav1.ConditionFalse, func(o *sourcev1.GitRepository) error {
		if r := apimeta.FindStatusCondition(o.Status.Conditions, "Ready"); r.Reason != "AuthenticationFailed" {
			return fmt.Errorf("Ready = %s: %s", r.Reason, r.Message)
		}
		return nil
	})
	msg := apimeta.FindStatusCondition(bad.Status.Conditions, "Ready").Message
	if !strings.Contains(msg, "nobody") || strings.Contains(msg, "PRIVATE KEY") {
		t.Errorf("Ready message %q", msg)
	}
}

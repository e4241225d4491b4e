package source_test

import (
	"net/url"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/proxy"
)

// TestGitRepositorySubmodulesTLSAndProxy archives a repository with recurseSubmodules from a
// server that requires a client certificate from a private CA, under a host name only the
// proxy of spec.proxySecretRef resolves: the submodule is fetched with the parent's CA, client
// certificate, credentials and proxy, and its files are in the artifact.
func TestGitRepositorySubmodulesTLSAndProxy(t *testing.T) {
	const host = "git.weir.test"
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	lib := root.NewRepo("lib")
	libHead := lib.Commit("master", "lib", map[string]string{"base/lib.yaml": "kind: Lib\n"})
	app := root.NewRepo("app")
	app.Commit("main", "app", map[string]string{"app.yaml": "kind: App\n"})
	head := app.Submodule("main", "vendor/lib", "../lib", libHead)
	srv := root.ServeHTTP(gitserver.HTTPOptions{ClientCert: true, DNSName: host, Username: "git", Password: "sub-pass"})
	p := proxy.Start(t, proxy.Options{Hosts: map[string]string{host: "127.0.0.1"}})
	u, err := url.Parse(srv.RepoURL("app"))
	if err != nil {
		t.Fatal(err)
	}
	u.Host = host + ":" + u.Port()

	createSecret(t, ns, "mtls", map[string][]byte{
		"username": []byte("git"), "password": []byte("sub-pass"),
		"ca.crt": srv.CAPEM, "tls.crt": srv.ClientCertPEM, "tls.key": srv.ClientKeyPEM,
	})
	createSecret(t, ns, "proxy", map[string][]byte{"address": []byte(p.URL)})
	obj := newGitRepository(ns, "app", u.String(), &sourcev1.GitRepositoryRef{Branch: "main"}, "mtls")
	obj.Spec.RecurseSubmodules = true
	obj.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"}
	if err := env.Client.Create(t.Context(), obj); err != nil {
		t.Fatal(err)
	}
	got := waitReady(t, client.ObjectKeyFromObject(obj), metav1.ConditionTrue, revisionIs("main@sha1:"+head))
	f := files(t, fetchArtifact(t, got))
	if f["app.yaml"] != "kind: App\n" || f["vendor/lib/base/lib.yaml"] != "kind: Lib\n" {
		t.Errorf("artifact files %v", f)
	}
	if !got.Status.ObservedRecurseSubmodules {
		t.Error("observedRecurseSubmodules is false")
	}
}

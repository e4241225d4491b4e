package image_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/git"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/githubapp"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// TestImageAutomationGitHubApp pushes with a GitHub App installation token (GitRepository
// provider github) to a GitHub Enterprise stand-in with a private CA: the automation reads
// the GitRepository's credentials as the source controller does.
func TestImageAutomationGitHubApp(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.New(t, ociregistry.Options{})
	reg.PushFiles(t, "app", "1.0.0", map[string]string{"v": "1"}, ociMetadata())
	image := reg.Host() + "/app"
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("org/fleet")
	repo.Commit("main", "init", map[string]string{"app.yaml": "image: " + image + ":0.9.0 # {\"$imagepolicy\": \"" + ns + ":app\"}\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{TLS: true, Username: git.GitHubAppUsername, Password: githubapp.Token(42, 1)})
	api := githubapp.Start(t, githubapp.Options{AppID: 7, TLS: &srv.TLSCertificate, Organizations: map[string]int64{"WeirOrg": 42}})
	secret(t, ns, "app", map[string][]byte{
		"githubAppID":                []byte(strconv.Itoa(7)),
		"githubAppInstallationOwner": []byte("WeirOrg"),
		"githubAppPrivateKey":        api.PrivateKeyPEM,
		"githubAppBaseURL":           []byte(api.APIURL()),
		"ca.crt":                     srv.CAPEM,
	})
	create(t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: sourcev1.GitRepositorySpec{
		URL: srv.RepoURL(repo.Name), Interval: metav1.Duration{Duration: time.Hour}, Provider: sourcev1.GitProviderGitHub,
		Reference: &sourcev1.GitRepositoryRef{Branch: "main"}, SecretRef: &meta.LocalObjectReference{Name: "app"},
	}})
	irep := newImageRepository(ns, "app", image)
	irep.Spec.Insecure = true
	create(t, irep)
	create(t, newImagePolicy(ns, "app", "app", semverPolicy("1.x")))
	create(t, &imageautov1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"},
		Spec: imageautov1.ImageUpdateAutomationSpec{
			Interval:  metav1.Duration{Duration: time.Hour},
			SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			GitSpec:   &imageautov1.GitSpec{Commit: imageautov1.CommitSpec{Author: imageautov1.CommitUser{Email: "bot@weir.invalid"}}},
		}})
	testenv.Eventually(t, time.Minute, func() error {
		if got := repo.Git("show", "main:app.yaml"); !strings.Contains(got, image+":1.0.0 #") {
			var a imageautov1.ImageUpdateAutomation
			_ = env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "fleet"}, &a)
			return fmt.Errorf("not pushed yet: %s; automation %+v", got, a.Status.Conditions)
		}
		return nil
	})
	if author := repo.Git("log", "-1", "--format=%an <%ae>", "main"); author != "bot@weir.invalid <bot@weir.invalid>" {
		t.Errorf("author %q", author)
	}
}

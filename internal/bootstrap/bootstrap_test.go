package bootstrap_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/githubapi"
)

func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: default\ndata:\n  value: %q\n", name, value)
}

func waitConfigMap(t *testing.T, name, value string) {
	t.Helper()
	testenv.Eventually(t, 2*time.Minute, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "default", Name: name}, &cm); err != nil {
			return err
		}
		if cm.Data["value"] != value {
			return fmt.Errorf("value = %q, want %q", cm.Data["value"], value)
		}
		return nil
	})
}

// TestBootstrapGitHub bootstraps against the GitHub stand-in: the repository is created, the
// manifests committed under the path, a deploy key added, weir installed and the sync Ready;
// a second run changes nothing; a push is then applied by the cluster.
func TestBootstrapGitHub(t *testing.T) {
	const token = "ghp_bootstrap0123456789"
	gh := githubapi.Start(t, githubapi.Options{Tokens: map[string]string{token: "weir-bot"}, Organizations: []string{"hops-ops"}})
	t.Setenv("GITHUB_TOKEN", token)
	rollout(t, "flux-system")
	args := []string{"bootstrap", "github", "--owner", "hops-ops", "--repository", "fleet", "--path", "clusters/test",
		"--hostname", gh.APIURL(), "--team", "platform"}
	out, err := run(t, args...)
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	if strings.Contains(out, token) {
		t.Error("the token shows in bootstrap's output")
	}
	st, ok := gh.State("hops-ops", "fleet")
	if !ok || !st.Private || !slices.Equal(st.DeployKeys, []string{"weir-flux-system-main-clusters-test"}) {
		t.Fatalf("repository: exists %v, %+v", ok, st)
	}
	repo := gh.Repo("hops-ops", "fleet")
	head := repo.Rev("main")
	for _, f := range []string{"gotk-components.yaml", "gotk-sync.yaml", "kustomization.yaml"} {
		repo.Git("cat-file", "-e", "main:clusters/test/flux-system/"+f)
	}
	var gr sourcev1.GitRepository
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: "flux-system", Name: "flux-system"}, &gr); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(gr.Spec.URL, "ssh://git@") || gr.Status.Artifact == nil || gr.Status.Artifact.Revision != "main@sha1:"+head {
		t.Errorf("GitRepository url %q artifact %+v, want the SSH URL at %s", gr.Spec.URL, gr.Status.Artifact, head)
	}

	calls := len(gh.Calls())
	out, err = run(t, args...)
	if err != nil {
		t.Fatalf("second bootstrap: %v\n%s", err, out)
	}
	if repo.Rev("main") != head {
		t.Error("a second run committed again")
	}
	for _, c := range gh.Calls()[calls:] {
		if !strings.HasPrefix(c, "PUT /orgs/hops-ops/teams/") {
			t.Errorf("a second run changed GitHub: %s", c)
		}
	}
	if !strings.Contains(out, "up to date") || !strings.Contains(out, "kept") {
		t.Errorf("second run's output:\n%s", out)
	}

	repo.Commit("main", "an app", map[string]string{"clusters/test/app.yaml": configMap("bootstrapped-app", "one")})
	env.RequestReconcile(t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: "flux-system"}})
	waitConfigMap(t, "bootstrapped-app", "one")
}

// TestBootstrapGitTakesOverFlux runs `weir bootstrap git` over SSH on a repository and cluster
// that Flux bootstrapped: the components file becomes weir's, the sync and its Secret are kept,
// Flux's controllers are pruned by the cluster's own sync, and a push is applied.
func TestBootstrapGitTakesOverFlux(t *testing.T) {
	const ns = "fleet-system"
	gh := githubapi.Start(t, githubapi.Options{Tokens: map[string]string{"unused": "weir-bot"}, Organizations: []string{"hops-ops"}})
	rollout(t, ns)
	repo := gh.AddRepo("hops-ops", "fleet", true, false, nil)
	url := gh.GitSSH.RepoURL("hops-ops/fleet.git")

	// What `flux bootstrap git` leaves: its components (here one controller) and the sync.
	fluxComponents := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n---\n" +
		"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: source-controller\n  namespace: " + ns + "\nspec:\n  replicas: 0\n  selector:\n    matchLabels:\n      app: source-controller\n  template:\n    metadata:\n      labels:\n        app: source-controller\n    spec:\n      containers:\n      - name: manager\n        image: ghcr.io/fluxcd/source-controller:v1.9.1\n"
	sync := fmt.Sprintf("---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: %[1]s\n  namespace: %[1]s\nspec:\n  interval: 1m0s\n  ref:\n    branch: main\n  secretRef:\n    name: %[1]s\n  url: %[2]s\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: %[1]s\n  namespace: %[1]s\nspec:\n  interval: 10m0s\n  path: ./clusters/prod\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: %[1]s\n", ns, url)
	repo.Commit("main", "Add Flux sync manifests", map[string]string{
		"clusters/prod/" + ns + "/gotk-components.yaml": fluxComponents,
		"clusters/prod/" + ns + "/gotk-sync.yaml":       sync,
		"clusters/prod/" + ns + "/kustomization.yaml":   "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n",
	})
	if err := env.Client.Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ns},
		Data: map[string][]byte{"identity": gh.GitSSH.ClientKeyPEM, "known_hosts": gh.GitSSH.KnownHosts}}); err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(sync, "\n---\n") {
		applyYAML(t, doc)
	}
	waitDeployment(t, ns, "source-controller", true)

	key := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(key, gh.GitSSH.ClientKeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "-n", ns, "bootstrap", "git", "--url", url, "--private-key-file", key, "--path", "clusters/prod", "--silent")
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	if data := repo.Git("show", "main:clusters/prod/"+ns+"/gotk-components.yaml"); !strings.Contains(data, "name: weir") || strings.Contains(data, "source-controller:v1") {
		t.Error("the components file is not weir's")
	}
	waitDeployment(t, ns, "source-controller", false)
	waitDeployment(t, ns, "weir", true)

	repo.Commit("main", "an app", map[string]string{"clusters/prod/app.yaml": configMap("taken-over-app", "weir")})
	env.RequestReconcile(t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ns}})
	waitConfigMap(t, "taken-over-app", "weir")
}

// TestBootstrapGitHubTokenAuth bootstraps a public personal repository with --token-auth: the
// sync fetches over HTTPS with the token, and no deploy key is made.
func TestBootstrapGitHubTokenAuth(t *testing.T) {
	const token, ns = "ghp_tokenauth0123456789", "token-system"
	gh := githubapi.Start(t, githubapi.Options{Tokens: map[string]string{token: "weir-bot"}})
	t.Setenv("GITHUB_TOKEN", token)
	rollout(t, ns)
	out, err := run(t, "-n", ns, "bootstrap", "github", "--owner", "weir-bot", "--repository", "personal-fleet", "--personal",
		"--private=false", "--token-auth", "--hostname", gh.APIURL(), "--path", "clusters/dev")
	if err != nil {
		t.Fatalf("bootstrap: %v\n%s", err, out)
	}
	st, ok := gh.State("weir-bot", "personal-fleet")
	if !ok || st.Private || len(st.DeployKeys) != 0 {
		t.Fatalf("repository: exists %v, %+v; want a public one without deploy keys", ok, st)
	}
	if !slices.Contains(gh.Calls(), "POST /user/repos") {
		t.Errorf("calls = %v, want a personal repository", gh.Calls())
	}
	var sec corev1.Secret
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "flux-system"}, &sec); err != nil {
		t.Fatal(err)
	}
	if string(sec.Data["username"]) != "git" || string(sec.Data["password"]) != token || len(sec.Data["identity"]) != 0 {
		t.Error("sync Secret is not the token's basic auth")
	}
	var gr sourcev1.GitRepository
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: ns}, &gr); err != nil {
		t.Fatal(err)
	}
	if gr.Spec.URL != gh.Git.RepoURL("weir-bot/personal-fleet.git") {
		t.Errorf("GitRepository url = %q, want the clone URL", gr.Spec.URL)
	}
	if strings.Contains(out, token) {
		t.Error("the token shows in bootstrap's output")
	}
}

// TestBootstrapBadInput refuses what bootstrap cannot do before touching anything.
func TestBootstrapBadInput(t *testing.T) {
	t.Setenv("GITHUB_TOKEN", "")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no token", []string{"github", "--owner", "o", "--repository", "r"}, "GITHUB_TOKEN environment variable not found"},
		{"no owner", []string{"github", "--repository", "r"}, "--owner and --repository are required"},
		{"path leaving the repository", []string{"git", "--url", "ssh://git@example.invalid/r.git", "--path", "../x"}, "invalid --path"},
		{"unknown component", []string{"git", "--url", "ssh://git@example.invalid/r.git", "--components-extra", "tiller"}, "component tiller is not one of flux's"},
		{"required component left out", []string{"git", "--url", "ssh://git@example.invalid/r.git", "--components", "helm-controller"}, "component source-controller is required"},
		{"commit signing", []string{"git", "--url", "ssh://git@example.invalid/r.git", "--gpg-key-ring", "k"}, "does not sign its commits yet"},
		{"plain HTTP", []string{"git", "--url", "http://example.invalid/r.git"}, "scheme http is insecure"},
		{"unsupported scheme", []string{"git", "--url", "ftp://example.invalid/r.git"}, `scheme "ftp" is not supported`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := run(t, append([]string{"bootstrap"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want %q\n%s", err, tc.want, out)
			}
		})
	}
}

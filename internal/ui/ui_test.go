package ui_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

var (
	env    *testenv.Env
	uiAddr string
	// screenshots, when set, writes the main views' screenshots to docs/ui.
	screenshots = flag.Bool("screenshots", false, "write screenshots of the main views to docs/ui")
)

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	if uiAddr, err = testenv.FreeAddr(); err != nil {
		panic(err)
	}
	os.Exit(testenv.Run(m, testenv.Options{ControllerManager: true}, &env, testenv.WithManager(func(o *manager.Options) {
		o.Controllers = []string{"gitrepository", "kustomization"}
		o.UIAddr = uiAddr
	})))
}

// secretValue is in a Secret the UI's objects apply; no page or response may show it.
const secretValue = "s3cr3t-ui-value-7f2c"

// chromium finds Debian's headless Chromium (installed by .ci/run).
func chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatal("no Chromium found: install Debian's chromium package (.ci/run does)")
	return ""
}

// browser starts a headless Chromium for the test.
func browser(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// token issues a token for a ServiceAccount of ns.
func token(t testing.TB, ns, sa string) string {
	t.Helper()
	acct := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}}
	if err := env.Client.Create(t.Context(), acct); err != nil {
		t.Fatal(err)
	}
	tr := &authenticationv1.TokenRequest{}
	if err := env.Client.SubResource("token").Create(t.Context(), acct, tr); err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// grant binds a ServiceAccount to verbs on Flux objects of its namespace.
func grant(t testing.TB, ns, sa string, verbs ...string) {
	t.Helper()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"kustomize.toolkit.fluxcd.io", "source.toolkit.fluxcd.io"}, Resources: []string{"*"}, Verbs: verbs}}}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: sa},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: sa},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}}
	for _, o := range []client.Object{role, rb} {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
}

// signIn signs the browser in with a token through the sign-in page.
func signIn(ctx context.Context, t *testing.T, tok string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+uiAddr+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tok),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("attention")),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
}

// waitText waits until the element sel contains want.
func waitText(ctx context.Context, t *testing.T, sel, want string, timeout time.Duration) string {
	t.Helper()
	var got string
	testenv.Eventually(t, timeout, func() error {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		if got, err = chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel))); err != nil {
			return err
		}
		if !strings.Contains(got, want) {
			return fmt.Errorf("%s shows %q, want %q", sel, got, want)
		}
		return nil
	})
	return got
}

func shot(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	if !*screenshots {
		return
	}
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "ui", name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// fleet serves a repository with an app (Deployment, ConfigMap, Secret) and creates its
// GitRepository and Kustomizations: app (good) and broken (a path that does not exist).
func fleet(t *testing.T, ns string) (*gitserver.Repo, string) {
	t.Helper()
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("fleet")
	rev := repo.Commit("main", "init", map[string]string{
		"app/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n" +
			"  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n",
		"app/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
		"app/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: " + secretValue + "\n",
	})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	objs := []client.Object{
		&sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}, Spec: sourcev1.GitRepositorySpec{
			URL: srv.RepoURL("fleet"), Interval: metav1.Duration{Duration: time.Hour}, Reference: &sourcev1.GitRepositoryRef{Branch: "main"}}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"}, Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: time.Hour}, Path: "./app", Prune: true, TargetNamespace: ns,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet"}}},
		&kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "broken"}, Spec: kustomizev1.KustomizationSpec{
			Interval: metav1.Duration{Duration: time.Hour}, Path: "./does-not-exist", Prune: true,
			DependsOn: []kustomizev1.DependencyReference{{Name: "app"}},
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: "GitRepository", Name: "fleet"}}},
	}
	for _, o := range objs {
		if err := env.Client.Create(t.Context(), o); err != nil {
			t.Fatal(err)
		}
	}
	return repo, rev
}

// TestUIInBrowser drives the UI in headless Chromium against weir reconciling a real Git
// repository: sign-in, the overview and its attention list, a list updated live by a push,
// the detail page, the trace from a commit to the Deployment, the graph, and actions allowed
// by RBAC only.
func TestUIInBrowser(t *testing.T) {
	ns := env.Namespace(t)
	repo, rev := fleet(t, ns)
	grant(t, ns, "operator", "get", "list", "watch", "patch")
	viewer, operator := token(t, ns, "viewer"), token(t, ns, "operator")
	ctx := browser(t)

	signIn(ctx, t, viewer)
	// The failing Kustomization needs attention, with its message.
	waitText(ctx, t, "#attention", "Kustomization/"+ns+"/broken", time.Minute)
	waitText(ctx, t, "#attention", "kustomization path not found", 10*time.Second)
	shot(ctx, t, "overview")

	// The list shows the applied revision; a push shows up without a reload.
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+uiAddr+"/#/list/Kustomization")); err != nil {
		t.Fatal(err)
	}
	waitText(ctx, t, `#list tr[data-id="Kustomization/`+ns+`/app"]`, "main@sha1:"+rev, time.Minute)
	shot(ctx, t, "list")
	next := repo.Commit("main", "color", map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n"})
	env.RequestReconcile(t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet"}})
	waitText(ctx, t, `#list tr[data-id="Kustomization/`+ns+`/app"]`, "main@sha1:"+next, time.Minute)

	// The detail page: state, inventory; a viewer cannot reconcile.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://%s/#/obj/Kustomization/%s/app", uiAddr, ns))); err != nil {
		t.Fatal(err)
	}
	waitText(ctx, t, "#inventory", "Deployment", 30*time.Second)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("btn-reconcile"))); err != nil {
		t.Fatal(err)
	}
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("btn-reconcile").disabled`))
	if err != nil {
		t.Fatal(err)
	}
	if !disabled {
		t.Error("a viewer without RBAC to patch sees an enabled Reconcile button")
	}
	shot(ctx, t, "detail")

	// The trace from the commit reaches the Deployment.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://%s/#/trace?rev=%s", uiAddr, next[:12]))); err != nil {
		t.Fatal(err)
	}
	waitText(ctx, t, "#trace", "Kustomization/"+ns+"/app", 30*time.Second)
	waitText(ctx, t, `#trace tr[data-object="Deployment/`+ns+`/web"]`, "web", 10*time.Second)
	shot(ctx, t, "trace")

	// The graph shows broken waiting on app.
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+uiAddr+"/#/graph")); err != nil {
		t.Fatal(err)
	}
	waitText(ctx, t, "main", "waiting on a dependency", 30*time.Second)
	shot(ctx, t, "graph")

	// The owner of the Deployment: the Kustomization, the source, the file.
	if err := chromedp.Do(ctx, chromedp.Navigate(fmt.Sprintf("http://%s/#/owner?apiVersion=apps/v1&kind=Deployment&namespace=%s&name=web", uiAddr, ns))); err != nil {
		t.Fatal(err)
	}
	waitText(ctx, t, "#owner", "Kustomization/"+ns+"/app", 30*time.Second)
	waitText(ctx, t, "#file", "app/deploy.yaml", 30*time.Second)

	// A viewer's action is refused by the server too; an operator's is done.
	if code, _ := apiAction(t, viewer, ns); code != http.StatusForbidden {
		t.Errorf("viewer's reconcile: status %d, want 403", code)
	}
	if code, body := apiAction(t, operator, ns); code != http.StatusOK {
		t.Fatalf("operator's reconcile: status %d: %s", code, body)
	}
	var ks kustomizev1.Kustomization
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "app"}, &ks); err != nil {
		t.Fatal(err)
	}
	if ks.Annotations["reconcile.fluxcd.io/requestedAt"] == "" {
		t.Error("the operator's reconcile did not annotate the Kustomization")
	}

	// No page shows the Secret's value.
	for _, page := range []string{"#/", "#/list/Kustomization", "#/obj/Kustomization/" + ns + "/app", "#/trace?rev=" + next[:12]} {
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+uiAddr+"/"+page), chromedp.WaitVisible(chromedp.CSS("main h1"))); err != nil {
			t.Fatal(err)
		}
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(html, secretValue) {
			t.Errorf("page %s shows the Secret's value", page)
		}
	}
}

// session signs in with a token over plain HTTP and returns a client carrying the cookie and
// the CSRF token.
func session(t *testing.T, tok string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Post("http://"+uiAddr+"/api/login", "application/json", strings.NewReader(fmt.Sprintf(`{"token":%q}`, tok)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	var s struct{ CSRF string }
	get(t, c, "/api/session", &s)
	return c, s.CSRF
}

func get(t *testing.T, c *http.Client, path string, v any) string {
	t.Helper()
	resp, err := c.Get("http://" + uiAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if v != nil {
		_ = json.Unmarshal(body, v)
	}
	return string(body)
}

func apiAction(t *testing.T, tok, ns string) (int, string) {
	t.Helper()
	c, csrf := session(t, tok)
	req, _ := http.NewRequest(http.MethodPost, "http://"+uiAddr+"/api/action",
		strings.NewReader(fmt.Sprintf(`{"kind":"Kustomization","namespace":%q,"name":"app","action":"reconcile"}`, ns)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestUIAPISecurity checks the API without a browser: no access without a session, no
// action without the CSRF token, security headers on every response, and no Secret value in
// any response.
func TestUIAPISecurity(t *testing.T) {
	ns := env.Namespace(t)
	repo, rev := fleet(t, ns)
	grant(t, ns, "operator", "get", "list", "watch", "patch")
	operator := token(t, ns, "operator")

	resp, err := http.Get("http://" + uiAddr + "/api/overview")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("overview without a session: %d, want 401", resp.StatusCode)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("response lacks %s", h)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "http") || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q allows other origins", csp)
	}
	resp, err = http.Post("http://"+uiAddr+"/api/login", "application/json", strings.NewReader(`{"token":"not-a-token"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("login with a bad token: %d, want 401", resp.StatusCode)
	}

	c, _ := session(t, operator)
	req, _ := http.NewRequest(http.MethodPost, "http://"+uiAddr+"/api/action",
		strings.NewReader(fmt.Sprintf(`{"kind":"Kustomization","namespace":%q,"name":"app","action":"suspend"}`, ns)))
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("action without the CSRF token: %d, want 403", resp.StatusCode)
	}

	// Wait until the app is applied, then read every endpoint.
	testenv.Eventually(t, time.Minute, func() error {
		var l struct {
			Items []struct{ Name, Revision string }
		}
		get(t, c, "/api/objects?kind=Kustomization", &l)
		for _, i := range l.Items {
			if i.Name == "app" && strings.Contains(i.Revision, rev) {
				return nil
			}
		}
		return fmt.Errorf("app not applied yet")
	})
	for _, path := range []string{"/api/overview", "/api/objects?kind=Kustomization", "/api/objects?kind=GitRepository",
		"/api/object?kind=Kustomization&namespace=" + ns + "&name=app", "/api/graph", "/api/trace?revision=" + rev,
		"/api/owner?apiVersion=v1&kind=Secret&namespace=" + ns + "&name=creds",
		"/api/diff?kind=Kustomization&namespace=" + ns + "&name=app"} {
		if body := get(t, c, path, nil); strings.Contains(body, secretValue) {
			t.Errorf("%s shows the Secret's value", path)
		}
	}
	// The drift of an untouched Kustomization is nothing; an edit of the live ConfigMap is drift.
	var d struct {
		Changes []struct{ Action, Object, Diff string }
		Error   string
	}
	get(t, c, "/api/diff?kind=Kustomization&namespace="+ns+"&name=app", &d)
	if d.Error != "" || len(d.Changes) != 0 {
		t.Errorf("drift of an untouched Kustomization: %+v", d)
	}
	cm := &corev1.ConfigMap{}
	if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settings"}, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["color"] = "red"
	if err := env.Client.Update(t.Context(), cm); err != nil {
		t.Fatal(err)
	}
	// What a branch would change: its ConfigMap and a new one, against the cluster.
	repo.Commit("feature", "feature", map[string]string{
		"app/cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: purple\n",
		"app/new.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: added\n"})
	var p struct {
		Units []struct {
			Name    string
			Changes []struct{ Action, Object string }
		}
		Problems []any
	}
	if body := get(t, c, "/api/plan?namespace="+ns+"&name=app&ref=feature", &p); strings.Contains(body, secretValue) {
		t.Error("the branch plan shows the Secret's value")
	}
	planned := map[string]string{}
	for _, u := range p.Units {
		for _, ch := range u.Changes {
			planned[ch.Object] = ch.Action
		}
	}
	if planned["ConfigMap/"+ns+"/settings"] != "changed" || planned["ConfigMap/"+ns+"/added"] != "created" || len(p.Problems) != 0 {
		t.Errorf("plan of the feature branch: %v, problems %v", planned, p.Problems)
	}
	get(t, c, "/api/diff?kind=Kustomization&namespace="+ns+"&name=app", &d)
	if len(d.Changes) != 1 || d.Changes[0].Object != "ConfigMap/"+ns+"/settings" || !strings.Contains(d.Changes[0].Diff, "red") {
		t.Errorf("drift after editing the ConfigMap: %+v", d)
	}
}

package image_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"golang.org/x/crypto/ssh"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// deployment is a Deployment of image with a marker, and comments and formatting that must
// survive the update byte for byte.
func deployment(ns, image string) string {
	return `# managed by weir's image automation test
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: ` + ns + `   # keep this comment
spec:
  replicas: 0
  selector: {matchLabels: {app: app}}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
        - name: app
          image: ` + image + ` # {"$imagepolicy": "` + ns + `:app"}
          args: [ "--port",  "8080" ]
`
}

func armoredPrivate(t *testing.T, e *openpgp.Entity) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func secret(t *testing.T, ns, name string, data map[string][]byte) {
	t.Helper()
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: data})
}

// gitShow runs git in the bare repository.
func gitShow(t *testing.T, repo *gitserver.Repo, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "git", append([]string{"-C", repo.Dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

type chain struct {
	http *gitserver.HTTPServer // nil over SSH
	ns   string
	reg  *ociregistry.Registry
	repo *gitserver.Repo
	irep *imagev1.ImageRepository
	auto *imageautov1.ImageUpdateAutomation
	key  *gitserver.PGPKey
}

// newChain sets up registry → ImageRepository → ImagePolicy → ImageUpdateAutomation →
// GitRepository (signed HEAD verified) → Kustomization, with the Git server over HTTP with
// basic auth, or over SSH.
func newChain(t *testing.T, overSSH bool) *chain {
	t.Helper()
	c := &chain{ns: env.Namespace(t), reg: ociregistry.New(t, ociregistry.Options{})}
	c.reg.PushFiles(t, "app", "1.0.0", map[string]string{"v": "1"}, ociMetadata())
	root := gitserver.NewRoot(t)
	c.repo = root.NewRepo("fleet")
	image := c.reg.Host() + "/app"
	c.repo.Commit("main", "initial", map[string]string{"deploy/app.yaml": deployment(c.ns, image+":1.0.0"), "README.md": "fleet\n"})
	c.key = root.NewPGPKey("weir bot")

	var url string
	if overSSH {
		srv := root.ServeSSH()
		url = srv.RepoURL("fleet")
		secret(t, c.ns, "git", map[string][]byte{"identity": srv.ClientKeyPEM, "known_hosts": srv.KnownHosts})
	} else {
		srv := root.ServeHTTP(gitserver.HTTPOptions{Username: "bot", Password: "git-pass-9"})
		c.http = srv
		url = srv.RepoURL("fleet")
		secret(t, c.ns, "git", map[string][]byte{"username": []byte("bot"), "password": []byte("git-pass-9")})
	}
	signingKey := &imageautov1.SigningKey{SecretRef: meta.LocalObjectReference{Name: "signing"}}
	if overSSH {
		// Over SSH, the commits are signed with an SSH key too (git's gpg.format=ssh).
		priv, pub := gitserver.NewSSHKey(t)
		secret(t, c.ns, "signing", map[string][]byte{"identity": priv})
		secret(t, c.ns, "trusted", map[string][]byte{"bot.sshpub": ssh.MarshalAuthorizedKey(pub)})
		signingKey.Type = imageautov1.SigningKeyTypeSSH
	} else {
		secret(t, c.ns, "signing", map[string][]byte{"git.asc": armoredPrivate(t, c.key.Entity)})
		secret(t, c.ns, "trusted", map[string][]byte{"bot.asc": c.key.PublicArmored})
	}

	create(t, &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "fleet"}, Spec: sourcev1.GitRepositorySpec{
		URL: url, Interval: metav1.Duration{Duration: time.Hour}, Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
		SecretRef: &meta.LocalObjectReference{Name: "git"},
	}})
	create(t, &kustomizev1.Kustomization{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "apps"}, Spec: kustomizev1.KustomizationSpec{
		Interval: metav1.Duration{Duration: time.Hour}, Path: "./deploy", Prune: true,
		SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
	}})
	c.irep = newImageRepository(c.ns, "app", image)
	c.irep.Spec.Insecure = true
	create(t, c.irep)
	create(t, newImagePolicy(c.ns, "app", "app", semverPolicy("1.x")))
	c.auto = &imageautov1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "fleet"},
		Spec: imageautov1.ImageUpdateAutomationSpec{
			Interval:  metav1.Duration{Duration: time.Hour},
			SourceRef: imageautov1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "fleet"},
			GitSpec: &imageautov1.GitSpec{
				Commit: imageautov1.CommitSpec{
					Author:     imageautov1.CommitUser{Name: "weir bot", Email: "bot@weir.invalid"},
					SigningKey: signingKey,
					MessageTemplate: `{{ .Values.prefix }} {{ .AutomationObject.Name }}
{{ range $f, $_ := .Changed.FileChanges }}- {{ $f }}
{{ end }}{{ range $o, $cs := .Changed.Objects }}{{ range $cs }}{{ $o.Kind }}/{{ $o.Name }}: {{ .OldValue }} -> {{ .NewValue }}
{{ end }}{{ end }}`,
					MessageTemplateValues: map[string]string{"prefix": "chore(images):"},
				},
				Push: &imageautov1.PushSpec{Branch: "main"},
			},
			Update: &imageautov1.UpdateStrategy{Strategy: imageautov1.UpdateStrategySetters, Path: "./deploy"},
		}}
	create(t, c.auto)
	return c
}

// deployedImage waits until the Deployment the Kustomization applied runs image.
func (c *chain) deployedImage(t *testing.T, image string, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, func() error {
		var d appsv1.Deployment
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: c.ns, Name: "app"}, &d); err != nil {
			return err
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != image {
			return fmt.Errorf("deployment image %s, want %s", got, image)
		}
		return nil
	})
}

// TestImageAutomationEndToEnd: a tag pushed to the registry is selected by the policy,
// written into the marked field (every other byte kept), committed with a signature the
// GitRepository verifies, pushed, fetched at once and applied by the Kustomization.
func TestImageAutomationEndToEnd(t *testing.T) {
	for name, overSSH := range map[string]bool{"http": false, "ssh": true} {
		t.Run(name, func(t *testing.T) {
			c := newChain(t, overSSH)
			image := c.reg.Host() + "/app"
			c.deployedImage(t, image+":1.0.0", time.Minute)

			// The source verifies HEAD: the automation's commits must be signed by the bot.

			c.reg.PushFiles(t, "app", "1.1.0", map[string]string{"v": "2"}, ociMetadata())
			env.RequestReconcile(t, c.irep)
			c.deployedImage(t, image+":1.1.0", time.Minute)

			if got, want := gitShow(t, c.repo, "show", "main:deploy/app.yaml"), deployment(c.ns, image+":1.1.0"); got != want {
				t.Errorf("file after update:\n%s\nwant:\n%s", got, want)
			}
			msg := gitShow(t, c.repo, "log", "-1", "--format=%B", "main")
			if !strings.HasPrefix(msg, "chore(images): fleet\n- deploy/app.yaml\nDeployment/app: "+image+":1.0.0 -> "+image+":1.1.0") {
				t.Errorf("commit message %q", msg)
			}
			armor := map[bool]string{false: "-----BEGIN PGP SIGNATURE-----", true: "-----BEGIN SSH SIGNATURE-----"}[overSSH]
			if raw := gitShow(t, c.repo, "cat-file", "commit", "main"); !strings.Contains(raw, armor) {
				t.Errorf("commit is not signed:\n%s", raw)
			}
			// The GitRepository now verifies HEAD: the automation's commit is signed by the bot.
			src := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "fleet"}}
			verify := `{"spec":{"verify":{"mode":"HEAD","secretRef":{"name":"trusted"}}}}`
			if err := env.Client.Patch(t.Context(), src, client.RawPatch("application/merge-patch+json", []byte(verify))); err != nil {
				t.Fatal(err)
			}
			waitReady(t, client.ObjectKeyFromObject(src), &sourcev1.GitRepository{}, metav1.ConditionTrue, func(g *sourcev1.GitRepository) error {
				if c := apimeta.FindStatusCondition(g.Status.Conditions, "SourceVerified"); c == nil || c.Status != metav1.ConditionTrue {
					return fmt.Errorf("SourceVerified = %+v", c)
				}
				return nil
			})

			auto := waitReady(t, client.ObjectKeyFromObject(c.auto), &imageautov1.ImageUpdateAutomation{}, metav1.ConditionTrue, nil)
			head := strings.TrimSpace(gitShow(t, c.repo, "rev-parse", "main"))
			if auto.Status.LastPushCommit != head || auto.Status.LastPushTime == nil || auto.Status.LastAutomationRunTime == nil ||
				auto.Status.ObservedSourceRevision != "main@sha1:"+head || auto.Status.ObservedPolicies["app"].Tag != "1.1.0" {
				t.Errorf("status %+v", auto.Status)
			}

			// An idle run costs one reference listing: no clone, no commit.
			var before int64
			if c.http != nil {
				before = c.http.Requests()
			}
			env.RequestReconcile(t, auto)
			waitReady(t, client.ObjectKeyFromObject(c.auto), &imageautov1.ImageUpdateAutomation{}, metav1.ConditionTrue,
				readyIs[*imageautov1.ImageUpdateAutomation]("Succeeded", "no change since last reconciliation"))
			if c.http != nil && c.http.Requests()-before != 1 {
				t.Errorf("an idle run sent %d requests to the Git server, want one reference listing", c.http.Requests()-before)
			}
		})
	}
}

// TestImageAutomationBadInput: a marker naming a policy that does not exist and a file that
// is not valid YAML are reported precisely while the other marker is still applied; a push
// the server rejects leaves the branch as it was.
func TestImageAutomationBadInput(t *testing.T) {
	c := newChain(t, false)
	image := c.reg.Host() + "/app"
	c.deployedImage(t, image+":1.0.0", time.Minute)
	c.repo.Commit("main", "more files", map[string]string{
		"deploy/ghost.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ghost, namespace: " + c.ns + "}\ndata:\n  image: x:1 # {\"$imagepolicy\": \"" + c.ns + ":ghost\"}\n",
		"deploy/broken.yaml": "data: [ # {\"$imagepolicy\": \"" + c.ns + ":app\"}\n",
	})
	c.reg.PushFiles(t, "app", "1.2.0", map[string]string{"v": "3"}, ociMetadata())
	env.RequestReconcile(t, c.irep)
	auto := waitReady(t, client.ObjectKeyFromObject(c.auto), &imageautov1.ImageUpdateAutomation{}, metav1.ConditionFalse,
		readyIs[*imageautov1.ImageUpdateAutomation]("UpdateFailed", "unknown image policy '"+c.ns+":ghost'"))
	for _, want := range []string{"pushed commit", "deploy/broken.yaml", "deploy/ghost.yaml:5"} {
		if err := readyIs[*imageautov1.ImageUpdateAutomation]("UpdateFailed", want)(auto); err != nil {
			t.Error(err)
		}
	}
	if got := gitShow(t, c.repo, "show", "main:deploy/app.yaml"); !strings.Contains(got, image+":1.2.0 #") {
		t.Errorf("the valid marker was not applied:\n%s", got)
	}

	// A push the server refuses: nothing changes on the branch.
	hook := filepath.Join(c.repo.Dir, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := gitShow(t, c.repo, "rev-parse", "main")
	c.reg.PushFiles(t, "app", "1.3.0", map[string]string{"v": "4"}, ociMetadata())
	env.RequestReconcile(t, c.irep)
	auto = waitReady(t, client.ObjectKeyFromObject(c.auto), &imageautov1.ImageUpdateAutomation{}, metav1.ConditionFalse,
		readyIs[*imageautov1.ImageUpdateAutomation]("GitOperationFailed", "failed to push"))
	if after := gitShow(t, c.repo, "rev-parse", "main"); after != before {
		t.Errorf("branch moved from %s to %s after a rejected push", before, after)
	}
	if c := auto.Status.Conditions; strings.Contains(fmt.Sprint(c), "git-pass-9") {
		t.Errorf("conditions leak the Git password: %v", c)
	}
}

// TestImageAutomationPushConflict: the branch moves while the automation works (the server's
// hook moves it and refuses the first push). The automation checks out the new head, applies
// the change again and pushes on top of it: the concurrent commit is kept, nothing is forced.
func TestImageAutomationPushConflict(t *testing.T) {
	c := newChain(t, false)
	image := c.reg.Host() + "/app"
	c.deployedImage(t, image+":1.0.0", time.Minute)
	before := c.repo.Rev("main")
	concurrent := c.repo.Commit("main", "a colleague's commit", map[string]string{"README.md": "fleet, edited\n"})
	c.repo.SetRef("refs/heads/main", before)

	marker := filepath.Join(t.TempDir(), "moved")
	hook := fmt.Sprintf(`#!/bin/sh
if [ ! -e %[1]q ]; then
  touch %[1]q
  (unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES; git update-ref refs/heads/main %[2]s)
  echo 'branch moved' >&2
  exit 1
fi
exit 0
`, marker, concurrent)
	if err := os.WriteFile(filepath.Join(c.repo.Dir, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	c.reg.PushFiles(t, "app", "1.1.0", map[string]string{"v": "2"}, ociMetadata())
	env.RequestReconcile(t, c.irep)
	c.deployedImage(t, image+":1.1.0", time.Minute)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the hook never refused a push: %v", err)
	}
	if parent := c.repo.Rev("main^"); parent != concurrent {
		t.Errorf("the automation's commit is on %s, want on the concurrent commit %s", parent, concurrent)
	}
	if got := gitShow(t, c.repo, "show", "main:README.md"); got != "fleet, edited\n" {
		t.Errorf("the concurrent change was lost: %q", got)
	}
}

// patchAutomation merge-patches the automation.
func patchAutomation(t *testing.T, c *chain, patch string) {
	t.Helper()
	a := &imageautov1.ImageUpdateAutomation{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: c.auto.Name}}
	if err := env.Client.Patch(t.Context(), a, client.RawPatch("application/merge-patch+json", []byte(patch))); err != nil {
		t.Fatal(err)
	}
}

// TestImageAutomationPushBranch: a policySelector that leaves the marker's policy out
// reports it; labelling the policy runs the automation at once, which pushes to a new
// branch and a refspec, never to the checkout branch; the next tag goes on top of the push
// branch without force; a template using a field Flux removed stalls the automation.
func TestImageAutomationPushBranch(t *testing.T) {
	c := newChain(t, false)
	image := c.reg.Host() + "/app"
	c.deployedImage(t, image+":1.0.0", time.Minute)
	main := c.repo.Rev("main")
	patchAutomation(t, c, `{"spec":{"policySelector":{"matchLabels":{"automate":"yes"}},
		"git":{"push":{"branch":"auto","refspec":"refs/heads/auto:refs/heads/mirror"}}}}`)
	c.reg.PushFiles(t, "app", "1.1.0", map[string]string{"v": "2"}, ociMetadata())
	env.RequestReconcile(t, c.irep)
	waitReady(t, client.ObjectKey{Namespace: c.ns, Name: "app"}, &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.1.0", ""))
	waitReady(t, client.ObjectKeyFromObject(c.auto), &imageautov1.ImageUpdateAutomation{}, metav1.ConditionFalse,
		readyIs[*imageautov1.ImageUpdateAutomation]("UpdateFailed", "unknown image policy '"+c.ns+":app'"))

	p := &imagev1.ImagePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "app"}}
	if err := env.Client.Patch(t.Context(), p, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"labels":{"automate":"yes"}}}`))); err != nil {
		t.Fatal(err)
	}
	first := waitReady(t, client.ObjectKeyFromObject(c.auto), &imageautov1.ImageUpdateAutomation{}, metav1.ConditionTrue,
		readyIs[*imageautov1.ImageUpdateAutomation]("Succeeded", "to branch 'auto'"))
	if got := c.repo.Rev("main"); got != main {
		t.Errorf("the checkout branch moved: %s -> %s", main, got)
	}
	if auto, mirror := c.repo.Rev("auto"), c.repo.Rev("mirror"); auto != first.Status.LastPushCommit || mirror != auto {
		t.Errorf("auto %s, mirror %s, lastPushCommit %s", auto, mirror, first.Status.LastPushCommit)
	}

	c.reg.PushFiles(t, "app", "1.2.0", map[string]string{"v": "3"}, ociMetadata())
	env.RequestReconcile(t, c.irep)
	testenv.Eventually(t, time.Minute, func() error {
		if parent := c.repo.Rev("auto^"); parent != first.Status.LastPushCommit {
			return fmt.Errorf("auto^ is %s, want the previous automation commit %s", parent, first.Status.LastPushCommit)
		}
		return nil
	})
	if got := gitShow(t, c.repo, "show", "auto:deploy/app.yaml"); !strings.Contains(got, image+":1.2.0 #") {
		t.Errorf("auto branch file:\n%s", got)
	}

	patchAutomation(t, c, `{"spec":{"git":{"commit":{"messageTemplate":"{{ range .Updated.Images }}{{ . }}{{ end }}"}}}}`)
	c.reg.PushFiles(t, "app", "1.3.0", map[string]string{"v": "4"}, ociMetadata())
	env.RequestReconcile(t, c.irep)
	stalled := waitReady(t, client.ObjectKeyFromObject(c.auto), &imageautov1.ImageUpdateAutomation{}, metav1.ConditionFalse,
		readyIs[*imageautov1.ImageUpdateAutomation]("RemovedTemplateField", ".Updated"))
	if s := apimeta.FindStatusCondition(stalled.Status.Conditions, "Stalled"); s == nil || s.Status != metav1.ConditionTrue {
		t.Errorf("Stalled = %+v", s)
	}
}

// TestImageAutomationRegistryWebhook: a registry's webhook, received by a Receiver naming
// the ImageRepository, carries a pushed tag to the cluster without waiting for the scan
// interval.
func TestImageAutomationRegistryWebhook(t *testing.T) {
	c := newChain(t, false)
	image := c.reg.Host() + "/app"
	c.deployedImage(t, image+":1.0.0", time.Minute)
	secret(t, c.ns, "webhook", map[string][]byte{"token": []byte("registry-hook-token")})
	rcv := &notificationv1.Receiver{ObjectMeta: metav1.ObjectMeta{Namespace: c.ns, Name: "registry"},
		Spec: notificationv1.ReceiverSpec{Type: notificationv1.GenericReceiver, SecretRef: &meta.LocalObjectReference{Name: "webhook"},
			Resources: []notificationv1.ReceiverResource{{CrossNamespaceObjectReference: notificationv1.CrossNamespaceObjectReference{
				Kind: imagev1.ImageRepositoryKind, Name: "app"}}}}}
	create(t, rcv)
	var path string
	testenv.Eventually(t, time.Minute, func() error {
		var r notificationv1.Receiver
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(rcv), &r); err != nil {
			return err
		}
		if path = r.Status.WebhookPath; path == "" {
			return fmt.Errorf("no webhook path yet")
		}
		return nil
	})

	c.reg.PushFiles(t, "app", "1.1.0", map[string]string{"v": "2"}, ociMetadata())
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, receiverURL+path, strings.NewReader(`{"tag":"1.1.0"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
	c.deployedImage(t, image+":1.1.0", time.Minute)
}

// TestImageAutomationPushOptions: spec.git.push.options reach the server's hooks as Git push
// options (what GitLab reads merge_request.create from).
func TestImageAutomationPushOptions(t *testing.T) {
	c := newChain(t, false)
	image := c.reg.Host() + "/app"
	c.deployedImage(t, image+":1.0.0", time.Minute)
	c.repo.Git("config", "receive.advertisePushOptions", "true")
	seen := filepath.Join(t.TempDir(), "options")
	hook := fmt.Sprintf("#!/bin/sh\ni=0\nwhile [ $i -lt \"${GIT_PUSH_OPTION_COUNT:-0}\" ]; do eval \"echo \\$GIT_PUSH_OPTION_$i\" >> %q; i=$((i+1)); done\nexit 0\n", seen)
	if err := os.WriteFile(filepath.Join(c.repo.Dir, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	patchAutomation(t, c, `{"spec":{"git":{"push":{"options":{"merge_request.create":"","merge_request.target":"main"}}}}}`)
	c.reg.PushFiles(t, "app", "1.1.0", map[string]string{"v": "2"}, ociMetadata())
	env.RequestReconcile(t, c.irep)
	c.deployedImage(t, image+":1.1.0", time.Minute)
	data, err := os.ReadFile(seen)
	if err != nil {
		t.Fatalf("the hook saw no push option: %v", err)
	}
	for _, want := range []string{"merge_request.create=\n", "merge_request.target=main\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("push options %q lack %q", data, want)
		}
	}
}

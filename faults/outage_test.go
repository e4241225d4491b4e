//go:build faults

package faults_test

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/chartrepo"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// sourceInterval is the interval of the outage cases' sources: once a fault is gone, the next
// fetch comes within it.
const sourceInterval = 3 * time.Second

// gitSource creates a GitRepository of url (no repository of its own: the case serves it)
// with the outage cases' short interval and timeout, edited by edit.
func (w *world) gitSource(name, url string, edit ...func(*sourcev1.GitRepository)) *sourcev1.GitRepository {
	w.t.Helper()
	g := &sourcev1.GitRepository{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: sourcev1.GitRepositorySpec{
		URL: url, Interval: metav1.Duration{Duration: sourceInterval}, Timeout: &metav1.Duration{Duration: 5 * time.Second},
		Reference: &sourcev1.GitRepositoryRef{Branch: "main"},
	}}
	for _, e := range edit {
		e(g)
	}
	w.create(g)
	return g
}

// artifactRevision is the revision of the GitRepository's artifact, "" without one.
func artifactRevision(g *sourcev1.GitRepository) string {
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(g), g); err != nil || g.Status.Artifact == nil {
		return ""
	}
	return g.Status.Artifact.Revision
}

// gitFault is one way a Git server fails, behind its own front.
type gitFault struct {
	name string
	// set starts the fault; clear ends it.
	set, clear func()
	// fragments are what the GitRepository's Ready message must say.
	fragments []string
}

// TestGitServerOutages serves four repositories through stand-ins that then fail: the server
// down (connection refused), a tarpit that trickles a byte a second, garbage in place of the
// smart-HTTP protocol, and a truncated packfile. Each GitRepository had applied a first
// revision; the faults come with a second. Oracle: each GitRepository is Ready=False with
// GitOperationFailed naming the failure (the tarpit's within spec.timeout, 5s, plus the
// retry), its artifact stays the first revision, its Kustomization keeps its last good state
// (revision, inventory, objects' resourceVersions), no half-fetched revision is ever applied,
// goroutines and peak memory stay bounded while the tarpit holds connections; once the faults
// are gone, every Kustomization applies the second revision within a minute; the canary
// never leaks.
func TestGitServerOutages(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	type served struct {
		fault gitFault
		repo  *gitserver.Repo
		src   *sourcev1.GitRepository
		k     *kustomizev1.Kustomization
		rev   string
	}
	var all []*served
	add := func(name string, fault func(base string) gitFault) {
		repo := w.git.NewRepo(name)
		repo.Commit("main", "first", configMaps(name, "1", name))
		f := fault(w.http.URL)
		f.name = name
		s := &served{fault: f, repo: repo}
		all = append(all, s)
	}
	var fronts []*gitFront
	var proxy *tcpProxy
	urls := map[string]string{}
	add("down", func(base string) gitFault {
		proxy = newTCPProxy(t, strings.TrimPrefix(base, "http://"))
		urls["down"] = proxy.URL("http") + "/down"
		return gitFault{set: proxy.cut, clear: proxy.restore, fragments: []string{"connection refused"}}
	})
	for _, m := range []struct {
		name      string
		mode      frontMode
		fragments []string
	}{
		{"tarpit", tarpit, []string{"context deadline exceeded"}},
		{"garbage", garbage, []string{"invalid pkt-len"}},
		{"truncated", truncate, []string{"unexpected EOF"}},
	} {
		add(m.name, func(base string) gitFault {
			f := newGitFront(t, base)
			fronts = append(fronts, f)
			urls[m.name] = f.URL + "/" + m.name
			return gitFault{set: func() { f.set(m.mode) }, clear: func() { f.set(pass) }, fragments: m.fragments}
		})
	}
	for _, s := range all {
		s.src = w.gitSource(s.fault.name, urls[s.fault.name])
		s.k = w.kustomization(s.fault.name, s.fault.name, "./"+s.fault.name)
	}
	proc := w.start(nil)
	before := map[string]applied{}
	for _, s := range all {
		w.waitApplied(s.k, s.repo.Rev("main"), 2*time.Minute, s.fault.name)
		before[s.fault.name] = w.lastGood(s.k)
	}
	baseRSS, baseG := proc.peakRSS(t), proc.goroutines(t)

	for _, s := range all {
		s.fault.set()
		s.rev = s.repo.Commit("main", "second", configMaps(s.fault.name, "2", s.fault.name))
	}
	for _, s := range all {
		msg := w.waitCondition(s.src, meta.ReadyCondition, metav1.ConditionFalse, "GitOperationFailed", time.Minute, s.fault.fragments...)
		t.Logf("%s: %s", s.fault.name, msg)
		if got := artifactRevision(s.src); !strings.HasSuffix(got, s.repo.Rev("main~1")) {
			t.Errorf("%s: the artifact moved to %s during the fault", s.fault.name, got)
		}
	}
	// Three more fetches under the faults: the tarpit's connections must not pile up.
	counts := map[*gitFront]int64{}
	for _, f := range fronts {
		counts[f] = f.requests.Load()
	}
	testenv.Eventually(t, time.Minute, func() error {
		for _, f := range fronts {
			if n := f.requests.Load() - counts[f]; n < 3 {
				return fmt.Errorf("%s: %d more requests, want 3", f.URL, n)
			}
		}
		return nil
	})
	var held int64
	for _, f := range fronts {
		held += f.active.Load()
	}
	if held > 2 {
		t.Errorf("%d requests are still held by the stand-ins: fetches past their timeout are not abandoned", held)
	}
	for _, s := range all {
		w.assertKept(s.k, before[s.fault.name])
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: s.fault.name}, &cm); err != nil || cm.Data["value"] != "1" {
			t.Errorf("%s: the ConfigMap is %v (%v) during the fault", s.fault.name, cm.Data, err)
		}
	}
	if g := proc.goroutines(t); g > baseG+100 {
		t.Errorf("goroutines grew from %d to %d under the faults", baseG, g)
	}
	if rss := proc.peakRSS(t); rss > baseRSS+200<<20 {
		t.Errorf("peak RSS grew from %d MiB to %d MiB under the faults", baseRSS>>20, rss>>20)
	}

	for _, s := range all {
		s.fault.clear()
	}
	for _, s := range all {
		w.waitApplied(s.k, s.rev, time.Minute, s.fault.name)
	}
	w.assertNoCanary()
}

// TestGitCredentialsAndTLS fetches from servers that refuse the GitRepository's credentials
// and that present a certificate of another CA than the one the GitRepository trusts.
// Oracle: Ready=False with AuthenticationFailed, for the certificate naming the unknown
// authority, the wrong password in no message, event or log line; once the Secret is
// corrected, Ready=True with the repository's revision; the canary never leaks.
func TestGitCredentialsAndTLS(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	password, wrong := "right-"+rand.String(16), "wrong-"+rand.String(16)
	auth := w.git.ServeHTTP(gitserver.HTTPOptions{Username: "git", Password: password})
	tlsSrv := w.git.ServeHTTP(gitserver.HTTPOptions{TLS: true})
	other := gitserver.NewRoot(t).ServeHTTP(gitserver.HTTPOptions{TLS: true})
	repo := w.git.NewRepo("app")
	rev := repo.Commit("main", "first", configMaps("app", "1", "app"))
	w.create(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, StringData: map[string]string{"username": "git", "password": wrong}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ca"}, StringData: map[string]string{"ca.crt": string(other.CAPEM)}},
	)
	creds := w.gitSource("creds", auth.RepoURL("app"), func(g *sourcev1.GitRepository) {
		g.Spec.SecretRef = &meta.LocalObjectReference{Name: "creds"}
	})
	tlsSource := w.gitSource("tls", tlsSrv.RepoURL("app"), func(g *sourcev1.GitRepository) {
		g.Spec.SecretRef = &meta.LocalObjectReference{Name: "ca"}
	})
	events := w.notifications()
	proc := w.start(nil)
	msg := w.waitCondition(creds, meta.ReadyCondition, metav1.ConditionFalse, "AuthenticationFailed", time.Minute)
	t.Logf("credentials: %s", msg)
	msg = w.waitCondition(tlsSource, meta.ReadyCondition, metav1.ConditionFalse, "AuthenticationFailed", time.Minute, "certificate signed by unknown authority")
	t.Logf("TLS: %s", msg)

	for name, data := range map[string]map[string]string{"creds": {"password": password}, "ca": {"ca.crt": string(tlsSrv.CAPEM)}} {
		s := &corev1.Secret{}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: name}, s); err != nil {
			t.Fatal(err)
		}
		s.StringData = data
		if err := env.Client.Update(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []*sourcev1.GitRepository{creds, tlsSource} {
		testenv.Eventually(t, time.Minute, func() error {
			if got := artifactRevision(g); !strings.HasSuffix(got, rev) {
				return fmt.Errorf("%s: artifact %q, want %s", g.Name, got, rev)
			}
			return nil
		})
		w.waitReady(g, time.Minute)
	}
	for _, text := range append(events(), proc.log.String(), w.eventsText()) {
		for _, secret := range []string{wrong, password} {
			if strings.Contains(text, secret) {
				t.Errorf("a password leaked: …%s…", text[max(0, strings.Index(text, secret)-200):strings.Index(text, secret)])
			}
		}
	}
	w.assertNoCanary()
}

// eventsText is every Kubernetes event of the case's namespace, as text.
func (w *world) eventsText() string {
	w.t.Helper()
	var list corev1.EventList
	if err := env.Client.List(w.t.Context(), &list, client.InNamespace(w.ns)); err != nil {
		w.t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range list.Items {
		b.WriteString(e.Reason + ": " + e.Message + "\n")
	}
	return b.String()
}

// kubeconfigVia writes a copy of the control plane's kubeconfig whose server is the proxy p
// (the serving certificate covers 127.0.0.1) and returns its path.
func (w *world) kubeconfigVia(p *tcpProxy) string {
	w.t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = p.URL("https")
	}
	path := filepath.Join(w.base, "kubeconfig-proxy")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// outlive waits d and fails the test if the process ends meanwhile.
func outlive(t *testing.T, p *process, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		t.Fatalf("the controller ended during the fault:\n%s", tail(p.log.String(), 3000))
	case <-timer.C:
	}
}

// TestAPIServerCut cuts the controller off the API server (a TCP proxy between them closes
// every connection and refuses new ones) while a Kustomization applies three hundred
// ConfigMaps, for 30 seconds and for 3 minutes. Oracle: the controller does not exit; once
// the API server is back, the Kustomization is Ready at the revision within two minutes plus
// the outage's length (see the note on the retry backoff below) with
// exactly the three hundred ConfigMaps in its inventory and in the cluster (no duplicate, no
// orphan, none missing); goroutines are back within bounds; the canary never leaks.
func TestAPIServerCut(t *testing.T) {
	t.Parallel()
	for _, outage := range []time.Duration{30 * time.Second, 3 * time.Minute} {
		t.Run(outage.String(), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			api, err := url.Parse(env.Config.Host)
			if err != nil {
				t.Fatal(err)
			}
			proxy := newTCPProxy(t, api.Host)
			cms := names("cm", 0, 300)
			repo := w.repo("app", configMaps("app", "1", cms...))
			k := w.kustomization("app", "app", "./app", func(k *kustomizev1.Kustomization) {
				k.Spec.RetryInterval = &metav1.Duration{Duration: 5 * time.Second}
			})
			p := w.startWith(w.kubeconfigVia(proxy), nil)
			testenv.Eventually(t, 2*time.Minute, func() error {
				if p.exited() {
					t.Fatalf("the controller ended:\n%s", tail(p.log.String(), 3000))
				}
				if n := len(w.managedConfigMaps(k)); n == 0 {
					return fmt.Errorf("the apply has not started")
				}
				return nil
			})
			proxy.cut()
			applied := len(w.managedConfigMaps(k))
			t.Logf("cut with %d of %d ConfigMaps applied", applied, len(cms))
			outlive(t, p, outage)
			proxy.restore()
			// Recovery within a minute of the API server's return: a reconcile the outage
			// failed, its status write included, is retried on weir's backoff (at most
			// --max-retry-delay, 5 s here), never on controller-runtime's, which doubles to
			// 1,000 s.
			w.waitApplied(k, repo.Rev("main"), time.Minute, cms...)
			if g := p.goroutines(t); g > 600 {
				t.Errorf("%d goroutines after the outage", g)
			}
			w.assertNoCanary()
		})
	}
}

// mountTmpfs mounts a tmpfs of size bytes at dir (the suite runs as root) and unmounts it
// when the test ends; it skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, dir string, size int64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for a full disk (needs root or CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
}

// randomText is n bytes of text that gzip cannot shrink much.
func randomText(n int) string {
	b := make([]byte, n*3/4)
	_, _ = cryptorand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// TestArtifactStoreDiskFull fills the file system under the artifact store (a 4 MiB tmpfs)
// and pushes a revision whose artifact does not fit. Oracle: the GitRepository is
// Ready=False with StorageOperationFailed or ArchiveOperationFailed naming "no space left on
// device", its artifact stays the last one and is still served over HTTP with its digest,
// the Kustomization keeps its last good state, no temporary file is left in the store; once
// space is freed, the new revision is stored and applied within a minute; the canary never
// leaks.
func TestArtifactStoreDiskFull(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	mountTmpfs(t, w.storage(), 4<<20)
	repo := w.git.NewRepo("app")
	repo.Commit("main", "first", configMaps("app", "1", "app"))
	src := w.gitSource("app", w.http.RepoURL("app"))
	k := w.kustomization("app", "app", "./app")
	w.start(nil)
	w.waitApplied(k, repo.Rev("main"), 2*time.Minute, "app")
	before := w.lastGood(k)

	// Leave about 200 KiB free, then push 1.5 MiB of incompressible data.
	filler := filepath.Join(w.storage(), "filler")
	var st syscall.Statfs_t
	if err := syscall.Statfs(w.storage(), &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	if err := os.WriteFile(filler, make([]byte, free-200<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	files := configMaps("app", "2", "app")
	files["blob/data.txt"] = randomText(3 << 19)
	rev := repo.Commit("main", "big", files)
	msg := w.waitCondition(src, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "no space left on device")
	t.Logf("disk full: %s", msg)
	c, _ := condition(src, meta.ReadyCondition)
	if c.Reason != "StorageOperationFailed" && c.Reason != "ArchiveOperationFailed" {
		t.Errorf("Ready reason %s, want StorageOperationFailed or ArchiveOperationFailed", c.Reason)
	}
	if !strings.HasSuffix(src.Status.Artifact.Revision, repo.Rev("main~1")) {
		t.Errorf("the artifact moved to %s", src.Status.Artifact.Revision)
	}
	data, err := artifactFetch(t, src.Status.Artifact.URL, src.Status.Artifact.Digest)
	if err != nil {
		t.Errorf("the last artifact is not served while the disk is full: %v", err)
	} else if len(data) == 0 {
		t.Error("the last artifact is empty")
	}
	w.assertKept(k, before)
	w.assertStoreConsistent()

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	w.waitApplied(k, rev, time.Minute, "app")
	w.assertStoreConsistent()
	w.assertNoCanary()
}

// artifactFetch downloads an artifact from the controller's HTTP server and checks its digest.
func artifactFetch(t *testing.T, url, digest string) ([]byte, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("served digest %s, status says %s", got, digest)
	}
	return b, nil
}

// TestCorruptedArtifact replaces a stored artifact on disk with another, well-formed one
// whose ConfigMap says "evil", and restarts the controller so that nothing is cached: the
// Kustomization must read the file again. Oracle: the digest mismatch is detected, the file is
// dropped and the source stores its artifact again (digest matching the file), the
// Kustomization applies the true content (its new label), "evil" is never applied, and the
// canary never leaks.
func TestCorruptedArtifact(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	repo := w.git.NewRepo("app")
	rev := repo.Commit("main", "first", configMaps("app", "1", "app"))
	src := w.gitSource("app", w.http.RepoURL("app"))
	k := w.kustomization("app", "app", "./app", func(k *kustomizev1.Kustomization) {
		k.Spec.RetryInterval = &metav1.Duration{Duration: 2 * time.Second}
	})
	first := w.start(nil)
	w.waitApplied(k, rev, 2*time.Minute, "app")
	first.kill()
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(src), src); err != nil {
		t.Fatal(err)
	}
	evil := ociregistry.TarGz(t, configMaps("app", "evil", "app"))
	if err := os.WriteFile(filepath.Join(w.storage(), filepath.FromSlash(src.Status.Artifact.Path)), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(k), k); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(k.DeepCopy())
	k.Spec.CommonMetadata = &kustomizev1.CommonMetadata{Labels: map[string]string{"rebuilt": "yes"}}
	if err := env.Client.Patch(t.Context(), k, patch); err != nil {
		t.Fatal(err)
	}

	p := w.start(nil)
	stop := make(chan struct{})
	evilSeen := make(chan string, 1)
	go func() {
		for {
			var cm corev1.ConfigMap
			if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: "app"}, &cm); err == nil && cm.Data["value"] == "evil" {
				evilSeen <- cm.ResourceVersion
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	testenv.Eventually(t, 2*time.Minute, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: "app"}, &cm); err != nil {
			return err
		}
		if cm.Labels["rebuilt"] != "yes" {
			return fmt.Errorf("not rebuilt yet")
		}
		return nil
	})
	close(stop)
	select {
	case v := <-evilSeen:
		t.Errorf("the corrupted artifact was applied (ConfigMap resourceVersion %s)", v)
	default:
	}
	w.waitApplied(k, rev, time.Minute, "app")
	if !strings.Contains(p.log.String(), "digest mismatch") {
		t.Error("the controller's log does not report the digest mismatch")
	}
	w.assertStoreConsistent()
	w.assertNoCanary()
}

// TestRegistryAndChartRepositoryDown cuts an OCI registry and a Helm chart repository off
// (connection refused, through TCP proxies) after an OCIRepository's Kustomization and a
// HelmRelease were applied, and publishes new content meanwhile. Oracle: the OCIRepository
// and the HelmRepository are Ready=False naming the refused connection; their artifacts stay;
// the Kustomization keeps its last good state and the HelmRelease its release (still Ready,
// still chart 1.0.0); once both are back, the new artifact is applied and the release
// upgraded to 1.1.0 within two minutes; the canary never leaks.
func TestRegistryAndChartRepositoryDown(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	reg := ociregistry.New(t, ociregistry.Options{})
	regProxy := newTCPProxy(t, reg.Host())
	reg.PushFiles(t, "app", "latest", configMaps("app", "1", "oci"), oci.Metadata{Revision: "one"})
	ociSrc := &sourcev1.OCIRepository{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Spec: sourcev1.OCIRepositorySpec{
		URL: "oci://" + strings.TrimPrefix(regProxy.URL("http"), "http://") + "/app", Insecure: true,
		Reference: &sourcev1.OCIRepositoryRef{Tag: "latest"}, Interval: metav1.Duration{Duration: sourceInterval},
	}}
	w.create(ociSrc)
	k := w.kustomization("oci", "app", "./app", func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Kind = sourcev1.OCIRepositoryKind })

	charts := chartrepo.New(t, chartrepo.Options{})
	charts.Add(t, appChart("1.0.0"))
	chartProxy := newTCPProxy(t, strings.TrimPrefix(charts.URL(), "http://"))
	hr := w.helmRelease("charts", chartProxy.URL("http"))
	helmRepo := &sourcev1.HelmRepository{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "charts"}}
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(helmRepo), helmRepo); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(helmRepo.DeepCopy())
	helmRepo.Spec.Interval = metav1.Duration{Duration: sourceInterval}
	if err := env.Client.Patch(t.Context(), helmRepo, patch); err != nil {
		t.Fatal(err)
	}

	w.start(nil)
	w.waitReady(k, 2*time.Minute)
	w.waitReady(hr, 2*time.Minute)
	before := w.lastGood(k)
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(ociSrc), ociSrc); err != nil {
		t.Fatal(err)
	}
	ociRev := ociSrc.Status.Artifact.Revision

	regProxy.cut()
	chartProxy.cut()
	reg.PushFiles(t, "app", "latest", configMaps("app", "2", "oci"), oci.Metadata{Revision: "two"})
	charts.Add(t, appChart("1.1.0"))
	msg := w.waitCondition(ociSrc, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "connection refused")
	t.Logf("registry down: %s", msg)
	msg = w.waitCondition(helmRepo, meta.ReadyCondition, metav1.ConditionFalse, "", time.Minute, "connection refused")
	t.Logf("chart repository down: %s", msg)
	if ociSrc.Status.Artifact == nil || ociSrc.Status.Artifact.Revision != ociRev {
		t.Errorf("the OCI artifact moved during the outage: %+v", ociSrc.Status.Artifact)
	}
	w.assertKept(k, before)
	w.waitReady(hr, time.Second)
	if hr.Status.History[0].ChartVersion != "1.0.0" {
		t.Errorf("the release moved to %s during the outage", hr.Status.History[0].ChartVersion)
	}

	regProxy.restore()
	chartProxy.restore()
	testenv.Eventually(t, 2*time.Minute, func() error {
		var cm corev1.ConfigMap
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: "oci"}, &cm); err != nil {
			return err
		}
		if cm.Data["value"] != "2" {
			return fmt.Errorf("the new OCI artifact is not applied yet")
		}
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(hr), hr); err != nil {
			return err
		}
		if len(hr.Status.History) == 0 || hr.Status.History[0].ChartVersion != "1.1.0" {
			return fmt.Errorf("the release is not upgraded to 1.1.0 yet")
		}
		return nil
	})
	w.waitReady(k, time.Minute)
	w.waitReady(hr, time.Minute)
	w.assertNoCanary()
}

// TestEtcdRestart restarts the control plane's etcd (stopped, then started on the same data)
// under a running controller while it applies a new revision of 60 ConfigMaps. It does not run
// in parallel: every case shares this etcd.
// Oracles: the controller stays up; within a minute of etcd's return the Kustomization is
// Ready at the new revision with exactly the declared ConfigMaps, none missing, none orphaned;
// the canary leaks nowhere.
func TestEtcdRestart(t *testing.T) {
	w := newWorld(t)
	cms := names("cm", 0, 60)
	repo := w.repo("app", configMaps("app", "1", cms...))
	k := w.kustomization("app", "app", "./app")
	p := w.start(nil)
	w.waitApplied(k, repo.Rev("main"), 2*time.Minute, cms...)

	moved := names("moved", 0, 30)
	files := configMaps("app", "2", append(cms[30:], moved...)...)
	for _, n := range cms[:30] {
		files["app/"+n+".yaml"] = gitserver.Deleted
	}
	w.commit(repo, "move half", files)
	if err := env.RestartEtcd(); err != nil {
		t.Fatal(err)
	}
	t.Log("etcd restarted")
	w.waitApplied(k, repo.Rev("main"), time.Minute, append(cms[30:], moved...)...)
	if p.exited() {
		t.Fatal("the controller ended during the etcd restart")
	}
	w.assertNoCanary()
}

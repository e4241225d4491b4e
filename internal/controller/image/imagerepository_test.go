package image_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/manager"
	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
	"github.com/weirgitops/weir/internal/testenv/proxy"
)

func pushTags(t *testing.T, reg *ociregistry.Registry, repo string, tags ...string) map[string]string {
	t.Helper()
	digests := map[string]string{}
	for _, tag := range tags {
		digests[tag] = reg.PushFiles(t, repo, tag, map[string]string{"tag": tag}, oci.Metadata{}).String()
	}
	return digests
}

func newImageRepository(ns, name, image string) *imagev1.ImageRepository {
	return &imagev1.ImageRepository{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       imagev1.ImageRepositorySpec{Image: image, Interval: metav1.Duration{Duration: time.Hour}},
	}
}

func scanned(count int, latest ...string) func(*imagev1.ImageRepository) error {
	return func(r *imagev1.ImageRepository) error {
		s := r.Status.LastScanResult
		if s == nil || s.TagCount != count {
			return fmt.Errorf("lastScanResult %+v, want %d tags", s, count)
		}
		if latest != nil && !slices.Equal(s.LatestTags, latest) {
			return fmt.Errorf("latestTags %v, want %v", s.LatestTags, latest)
		}
		return nil
	}
}

// TestImageRepositoryScanTLSAuth scans a registry behind TLS with a private CA and basic
// auth, drops the excluded tags (Flux's default list drops *.sig), and sees a pushed tag
// after a reconcile request.
func TestImageRepositoryScanTLSAuth(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{TLS: true, Username: "scanner", Password: "s3cr3t-pass"})
	ns := env.Namespace(t)
	pushTags(t, reg, "team/app", "1.0.0", "1.1.0", "sha256-abc.sig")
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "regcred"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: reg.DockerConfig()}})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Data: map[string][]byte{"ca.crt": reg.CAPEM()}})
	repo := newImageRepository(ns, "app", reg.Host()+"/team/app")
	repo.Spec.SecretRef = &meta.LocalObjectReference{Name: "regcred"}
	repo.Spec.CertSecretRef = &meta.LocalObjectReference{Name: "ca"}
	create(t, repo)
	key := client.ObjectKeyFromObject(repo)
	got := waitReady(t, key, &imagev1.ImageRepository{}, metav1.ConditionTrue, scanned(2, "1.1.0", "1.0.0"))
	if got.Status.CanonicalImageName != reg.Host()+"/team/app" || !slices.Equal(got.Status.ObservedExclusionList, []string{`^.*\.sig$`}) {
		t.Errorf("status %+v", got.Status)
	}
	if err := readyIs[*imagev1.ImageRepository]("Succeeded", "successful scan: found 2 tags")(got); err != nil {
		t.Error(err)
	}

	pushTags(t, reg, "team/app", "1.2.0")
	env.RequestReconcile(t, got)
	waitReady(t, key, &imagev1.ImageRepository{}, metav1.ConditionTrue, scanned(3, "1.2.0", "1.1.0", "1.0.0"))
}

// TestImageRepositoryBadInput: wrong credentials, a registry that is down, an image with a
// tag, an exclusion pattern that does not compile. Each gives a precise condition without the
// password, and the registry coming back is picked up.
func TestImageRepositoryBadInput(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{Username: "scanner", Password: "right-pass"})
	ns := env.Namespace(t)
	pushTags(t, reg, "app", "1.0.0")
	wrong := `{"auths":{"` + reg.Host() + `":{"username":"scanner","password":"wrong-pass-42"}}}`
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "wrong"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(wrong)}})

	bad := newImageRepository(ns, "wrong-creds", reg.Host()+"/app")
	bad.Spec.Insecure = true
	bad.Spec.SecretRef = &meta.LocalObjectReference{Name: "wrong"}
	create(t, bad)
	got := waitReady(t, client.ObjectKeyFromObject(bad), &imagev1.ImageRepository{}, metav1.ConditionFalse,
		readyIs[*imagev1.ImageRepository]("AuthenticationFailed", "scan failed"))
	if b, _ := json.Marshal(got.Status); strings.Contains(string(b), "wrong-pass-42") {
		t.Errorf("status leaks the password: %s", b)
	}

	tagged := newImageRepository(ns, "tagged", reg.Host()+"/app:1.0.0")
	create(t, tagged)
	waitReady(t, client.ObjectKeyFromObject(tagged), &imagev1.ImageRepository{}, metav1.ConditionFalse,
		readyIs[*imagev1.ImageRepository]("ImageURLInvalid", "must not name a tag"))

	badRegex := newImageRepository(ns, "bad-regex", reg.Host()+"/app")
	badRegex.Spec.ExclusionList = []string{"(("}
	create(t, badRegex)
	waitReady(t, client.ObjectKeyFromObject(badRegex), &imagev1.ImageRepository{}, metav1.ConditionFalse,
		readyIs[*imagev1.ImageRepository]("Failure", "spec.exclusionList"))

	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "right"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: reg.DockerConfig()}})
	reg.SetDown(true)
	down := newImageRepository(ns, "down", reg.Host()+"/app")
	down.Spec.Insecure = true
	down.Spec.SecretRef = &meta.LocalObjectReference{Name: "right"}
	create(t, down)
	waitReady(t, client.ObjectKeyFromObject(down), &imagev1.ImageRepository{}, metav1.ConditionFalse,
		readyIs[*imagev1.ImageRepository]("ReadOperationFailed", "scan failed"))
	reg.SetDown(false)
	waitReady(t, client.ObjectKeyFromObject(down), &imagev1.ImageRepository{}, metav1.ConditionTrue, scanned(1))
}

// TestImageRepositoryManyTags scans a repository with 25,000 tags served in pages of 1,000,
// then rescans it unchanged: the stored tags are not rewritten and the revision stays.
func TestImageRepositoryManyTags(t *testing.T) {
	const total, page = 25000, 1000
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	all := make([]string, total)
	for i := range all {
		all[i] = "build-" + strconv.Itoa(i)
	}
	slices.Sort(all)
	reg.SetHook(func(w http.ResponseWriter, req *http.Request) bool {
		if !strings.HasSuffix(req.URL.Path, "/many/tags/list") {
			return false
		}
		start := 0
		if last := req.URL.Query().Get("last"); last != "" {
			i, _ := slices.BinarySearch(all, last)
			start = i + 1
		}
		end := min(start+page, total)
		if end < total {
			w.Header().Set("Link", fmt.Sprintf(`</v2/many/tags/list?n=%d&last=%s>; rel="next"`, page, all[end-1]))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"name": "many", "tags": all[start:end]})
		return true
	})
	repo := newImageRepository(ns, "many", reg.Host()+"/many")
	repo.Spec.Insecure = true
	create(t, repo)
	key := client.ObjectKeyFromObject(repo)
	first := waitReady(t, key, &imagev1.ImageRepository{}, metav1.ConditionTrue, scanned(total))
	rev, listed := first.Status.LastScanResult.Revision, reg.Requests("GET", "tags")

	env.RequestReconcile(t, first)
	testenv.Eventually(t, 30*time.Second, func() error {
		var r imagev1.ImageRepository
		if err := env.Client.Get(t.Context(), key, &r); err != nil {
			return err
		}
		if r.Status.LastHandledReconcileAt != first.Annotations["reconcile.fluxcd.io/requestedAt"] {
			return fmt.Errorf("not rescanned yet")
		}
		if r.Status.LastScanResult.Revision != rev {
			return fmt.Errorf("revision changed: %s", r.Status.LastScanResult.Revision)
		}
		return nil
	})
	if n := reg.Requests("GET", "tags"); n < listed+total/page {
		t.Errorf("rescan listed %d pages, want %d", n-listed, total/page)
	}
}

// TestImageRepositoryProxy scans through the proxy of spec.proxySecretRef, with its
// credentials: the registry's name resolves only in the proxy.
func TestImageRepositoryProxy(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	pushTags(t, reg, "app", "1.0.0", "2.0.0")
	_, port, _ := strings.Cut(reg.Host(), ":")
	p := proxy.Start(t, proxy.Options{Username: "proxy-user", Password: "proxy-pass-7", Hosts: map[string]string{"registry.weir.test": "127.0.0.1"}})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "proxy"}, Data: map[string][]byte{
		"address": []byte(p.URL), "username": []byte("proxy-user"), "password": []byte("proxy-pass-7")}})
	repo := newImageRepository(ns, "app", "registry.weir.test:"+port+"/app")
	repo.Spec.Insecure = true
	repo.Spec.ProxySecretRef = &meta.LocalObjectReference{Name: "proxy"}
	create(t, repo)
	waitReady(t, client.ObjectKeyFromObject(repo), &imagev1.ImageRepository{}, metav1.ConditionTrue, scanned(2))
	if !p.Served("registry.weir.test:" + port) {
		t.Errorf("the registry was not reached through the proxy: %v", p.Targets())
	}
}

// TestImageTagsSurviveRestart: a process that starts on the storage of another reads the
// tags back from disk: its ImagePolicy selects without the repository being listed again.
func TestImageTagsSurviveRestart(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	pushTags(t, reg, "app", "1.0.0", "1.4.0")
	storage := t.TempDir()
	own := func(o *manager.Options) {
		o.Controllers = []string{"imagerepository", "imagepolicy"}
		o.WatchLabelSelector = ownLabel
		o.StoragePath = storage
	}
	repo := newImageRepository(ns, "app", reg.Host()+"/app")
	repo.Spec.Insecure = true
	repo.Labels = map[string]string{ownLabel: "true"}
	policy := newImagePolicy(ns, "app", "app", semverPolicy("1.x"))
	policy.Labels = map[string]string{ownLabel: "true"}

	t.Run("first process", func(t *testing.T) {
		env.StartManager(t, own)
		create(t, repo)
		waitReady(t, client.ObjectKeyFromObject(repo), &imagev1.ImageRepository{}, metav1.ConditionTrue, scanned(2))
	})
	listed := reg.Requests("GET", "tags")
	t.Run("second process", func(t *testing.T) {
		env.StartManager(t, own)
		create(t, policy)
		waitReady(t, client.ObjectKeyFromObject(policy), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.4.0", ""))
		if n := reg.Requests("GET", "tags"); n != listed {
			t.Errorf("the repository was listed again after the restart (%d tag listings, want %d)", n, listed)
		}
	})
}

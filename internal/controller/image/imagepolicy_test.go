package image_test

import (
	"fmt"
	"testing"
	"time"

	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	"github.com/fluxcd/pkg/apis/acl"
	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

func newImagePolicy(ns, name, repo string, choice imagev1.ImagePolicyChoice) *imagev1.ImagePolicy {
	return &imagev1.ImagePolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       imagev1.ImagePolicySpec{ImageRepositoryRef: meta.NamespacedObjectReference{Name: repo}, Policy: choice},
	}
}

func latestIs(tag, digest string) func(*imagev1.ImagePolicy) error {
	return func(p *imagev1.ImagePolicy) error {
		if p.Status.LatestRef == nil || p.Status.LatestRef.Tag != tag || p.Status.LatestRef.Digest != digest {
			return fmt.Errorf("latestRef %+v, want tag %s digest %q", p.Status.LatestRef, tag, digest)
		}
		return nil
	}
}

func semverPolicy(r string) imagev1.ImagePolicyChoice {
	return imagev1.ImagePolicyChoice{SemVer: &imagev1.SemVerPolicy{Range: r}}
}

// TestImagePolicySelects: semver with pre-releases, numerical with a filter and extract,
// alphabetical descending, and digest reflection IfNotPresent; a new tag pushed and scanned
// moves the policy at once, with observedPreviousRef.
func TestImagePolicySelects(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	digests := pushTags(t, reg, "app", "1.0.0", "1.1.0", "1.2.0-rc.1", "main-9", "main-10", "latest")
	repo := newImageRepository(ns, "app", reg.Host()+"/app")
	repo.Spec.Insecure = true
	create(t, repo)

	stable := newImagePolicy(ns, "stable", "app", semverPolicy("1.x"))
	stable.Spec.DigestReflectionPolicy = imagev1.ReflectIfNotPresent
	create(t, stable)
	pre := newImagePolicy(ns, "pre", "app", semverPolicy(">=1.2.0-0"))
	create(t, pre)
	num := newImagePolicy(ns, "num", "app", imagev1.ImagePolicyChoice{Numerical: &imagev1.NumericalPolicy{Order: "asc"}})
	num.Spec.FilterTags = &imagev1.TagFilter{Pattern: `^main-(?P<build>\d+)$`, Extract: "$build"}
	create(t, num)
	alpha := newImagePolicy(ns, "alpha", "app", imagev1.ImagePolicyChoice{Alphabetical: &imagev1.AlphabeticalPolicy{Order: "desc"}})
	create(t, alpha)

	got := waitReady(t, client.ObjectKeyFromObject(stable), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.1.0", digests["1.1.0"]))
	if got.Status.LatestRef.Name != reg.Host()+"/app" {
		t.Errorf("latestRef.name %s", got.Status.LatestRef.Name)
	}
	waitReady(t, client.ObjectKeyFromObject(pre), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.2.0-rc.1", ""))
	waitReady(t, client.ObjectKeyFromObject(num), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("main-10", ""))
	waitReady(t, client.ObjectKeyFromObject(alpha), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.0.0", ""))

	d := pushTags(t, reg, "app", "1.3.0")
	env.RequestReconcile(t, repo)
	moved := waitReady(t, client.ObjectKeyFromObject(stable), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.3.0", d["1.3.0"]))
	if p := moved.Status.ObservedPreviousRef; p == nil || p.Tag != "1.1.0" {
		t.Errorf("observedPreviousRef %+v, want 1.1.0", p)
	}
}

// TestImagePolicyBadInput: no tag matches, a pattern that does not compile, tags that a
// numerical policy cannot parse, a missing ImageRepository (then created), and a
// cross-namespace reference denied, then granted by accessFrom.
func TestImagePolicyBadInput(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{})
	ns := env.Namespace(t)
	pushTags(t, reg, "app", "1.0.0", "latest")
	repo := newImageRepository(ns, "app", reg.Host()+"/app")
	repo.Spec.Insecure = true
	create(t, repo)

	cases := []struct {
		name, reason, msg string
		policy            *imagev1.ImagePolicy
	}{
		{"nomatch", "Failure", "satisfies semver range '>=2.0.0'", newImagePolicy(ns, "nomatch", "app", semverPolicy(">=2.0.0"))},
		{"badregex", "Failure", "invalid regular expression pattern", func() *imagev1.ImagePolicy {
			p := newImagePolicy(ns, "badregex", "app", semverPolicy("*"))
			p.Spec.FilterTags = &imagev1.TagFilter{Pattern: "(("}
			return p
		}()},
		{"unparsable", "Failure", "failed to parse invalid numeric value", newImagePolicy(ns, "unparsable", "app",
			imagev1.ImagePolicyChoice{Numerical: &imagev1.NumericalPolicy{}})},
		{"missing", "DependencyNotReady", "does not exist", newImagePolicy(ns, "missing", "later", semverPolicy("*"))},
	}
	for _, c := range cases {
		create(t, c.policy)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			waitReady(t, client.ObjectKeyFromObject(c.policy), &imagev1.ImagePolicy{}, metav1.ConditionFalse,
				readyIs[*imagev1.ImagePolicy](c.reason, c.msg))
		})
	}
	later := newImageRepository(ns, "later", reg.Host()+"/app")
	later.Spec.Insecure = true
	create(t, later)
	waitReady(t, client.ObjectKeyFromObject(cases[3].policy), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.0.0", ""))

	other := env.Namespace(t)
	cross := newImagePolicy(other, "cross", "app", semverPolicy("*"))
	cross.Spec.ImageRepositoryRef.Namespace = ns
	create(t, cross)
	waitReady(t, client.ObjectKeyFromObject(cross), &imagev1.ImagePolicy{}, metav1.ConditionFalse,
		readyIs[*imagev1.ImagePolicy]("AccessDenied", "spec.accessFrom"))
	if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(repo), repo); err != nil {
		t.Fatal(err)
	}
	repo.Spec.AccessFrom = &acl.AccessFrom{NamespaceSelectors: []acl.NamespaceSelector{
		{MatchLabels: map[string]string{corev1.LabelMetadataName: other}}}}
	if err := env.Client.Update(t.Context(), repo); err != nil {
		t.Fatal(err)
	}
	waitReady(t, client.ObjectKeyFromObject(cross), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("1.0.0", ""))
}

// TestImagePolicyDigestReflection: a mutable tag pushed again changes the digest an Always
// policy reflects and leaves an IfNotPresent policy's; the repository is reached with a
// service account's image pull Secret.
func TestImagePolicyDigestReflection(t *testing.T) {
	reg := ociregistry.New(t, ociregistry.Options{Username: "puller", Password: "pull-pass"})
	ns := env.Namespace(t)
	first := pushTags(t, reg, "app", "latest", "1.0.0")["latest"]
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pull"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: reg.DockerConfig()}})
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scanner"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}})
	repo := newImageRepository(ns, "app", reg.Host()+"/app")
	repo.Spec.Insecure = true
	repo.Spec.ServiceAccountName = "scanner"
	create(t, repo)

	latestOnly := imagev1.ImagePolicyChoice{Alphabetical: &imagev1.AlphabeticalPolicy{}}
	always := newImagePolicy(ns, "always", "app", latestOnly)
	always.Spec.FilterTags = &imagev1.TagFilter{Pattern: "^latest$"}
	always.Spec.DigestReflectionPolicy = imagev1.ReflectAlways
	always.Spec.Interval = &metav1.Duration{Duration: time.Hour}
	create(t, always)
	once := newImagePolicy(ns, "once", "app", latestOnly)
	once.Spec.FilterTags = &imagev1.TagFilter{Pattern: "^latest$"}
	once.Spec.DigestReflectionPolicy = imagev1.ReflectIfNotPresent
	create(t, once)
	waitReady(t, client.ObjectKeyFromObject(always), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("latest", first))
	waitReady(t, client.ObjectKeyFromObject(once), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("latest", first))

	second := reg.PushFiles(t, "app", "latest", map[string]string{"tag": "latest, rebuilt"}, oci.Metadata{}).String()
	if second == first {
		t.Fatal("the new push has the same digest")
	}
	env.RequestReconcile(t, always)
	env.RequestReconcile(t, once)
	waitReady(t, client.ObjectKeyFromObject(always), &imagev1.ImagePolicy{}, metav1.ConditionTrue, latestIs("latest", second))
	testenv.Eventually(t, 30*time.Second, func() error {
		var p imagev1.ImagePolicy
		if err := env.Client.Get(t.Context(), client.ObjectKeyFromObject(once), &p); err != nil {
			return err
		}
		if p.Status.LastHandledReconcileAt == "" {
			return fmt.Errorf("reconcile request not handled yet")
		}
		return latestIs("latest", first)(&p)
	})
}

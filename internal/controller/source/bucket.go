package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/minio/minio-go/v7/pkg/credentials"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/weirgitops/weir/internal/artifact"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/event"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/source/bucket"
	"github.com/weirgitops/weir/internal/source/git"
	"github.com/weirgitops/weir/internal/source/oci"
)

const (
	bucketFailedReason  = sourcev1.BucketOperationFailedReason
	defaultBucketTimout = 60 * time.Second
	// bucketConcurrency is how many objects of one bucket download at once.
	bucketConcurrency = 16
)

// BucketReconciler reconciles source.toolkit.fluxcd.io/v1 Bucket objects.
type BucketReconciler struct {
	quietSteps[*sourcev1.Bucket, sourceOutcome]

	client.Client
	Store    *artifact.Store
	Recorder *event.Recorder
	Retry    *reconcile.Retry
	// TempDir is where objects are downloaded; the system temporary directory when empty.
	TempDir string
	// MaxSize bounds the objects of one bucket in bytes (default 1 GiB).
	MaxSize int64
}

// SetupWithManager registers the reconciler with the manager.
func (r *BucketReconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, concurrent int) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("bucket").
		For(&sourcev1.Bucket{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, reconcile.ReconcileRequested{}))).
		WithOptions(controllerOptions(concurrent)).
		Complete(&reconcile.Skeleton[*sourcev1.Bucket, sourceOutcome]{
			Client: r.Client, Recorder: r.Recorder, Retry: r.Retry,
			GroupVersion: sourcev1.GroupVersion, Kind: sourcev1.BucketKind,
			New: func() *sourcev1.Bucket { return &sourcev1.Bucket{} }, Steps: r,
		})
}

// Fields returns the Bucket's fields the skeleton reads and writes.
func (r *BucketReconciler) Fields(obj *sourcev1.Bucket) reconcile.Fields {
	rev := ""
	if obj.Status.Artifact != nil {
		rev = obj.Status.Artifact.Revision
	}
	return reconcile.Fields{
		Conditions: &obj.Status.Conditions, ObservedGeneration: &obj.Status.ObservedGeneration,
		LastHandledReconcileAt: &obj.Status.LastHandledReconcileAt, Suspended: obj.Spec.Suspend,
		Interval: obj.Spec.Interval.Duration, RetryInterval: reconcile.BackoffOnly, Revision: rev,
	}
}

// Run lists the bucket and stores a new artifact when its index digest or the ignore rules
// changed.
func (r *BucketReconciler) Run(ctx context.Context, obj *sourcev1.Bucket, progress func(string)) sourceOutcome {
	err := r.reconcile(ctx, obj, progress)
	if err != nil && reconcile.Reason(err, "") == "" {
		err = reconcile.Failed(bucketFailedReason, err)
	}
	return sourceOutcome{err: err}
}

// Summarize writes the outcome into the conditions.
func (r *BucketReconciler) Summarize(obj *sourcev1.Bucket, out sourceOutcome, _ time.Duration) {
	msg := "no artifact"
	if obj.Status.Artifact != nil {
		msg = fmt.Sprintf("stored artifact: revision '%s'", obj.Status.Artifact.Revision)
	}
	summarizeSource(reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}, out.err, msg,
		bucketFailedReason, invalidProviderReason, compat.InvalidSTSConfigurationReason)
}

// Finalize removes the bucket's artifacts from the store.
func (r *BucketReconciler) Finalize(ctx context.Context, obj *sourcev1.Bucket) error {
	return deleteArtifacts(ctx, r.Store, storeObject(sourcev1.BucketKind, obj))
}

// reconcile runs the steps: client, existence, ignore rules, listing (the revision), and, when
// something changed, download, archive and garbage collection.
func (r *BucketReconciler) reconcile(ctx context.Context, obj *sourcev1.Bucket, progress func(string)) error {
	opts, err := r.options(ctx, obj)
	if err != nil {
		return err
	}
	c, err := bucket.New(obj.Spec.BucketName, opts)
	if err != nil {
		return reconcile.Stalled(compat.URLInvalidReason, fmt.Errorf("invalid endpoint '%s': %w", obj.Spec.Endpoint, err))
	}
	timeout := defaultBucketTimout
	if obj.Spec.Timeout != nil {
		timeout = obj.Spec.Timeout.Duration
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := obj.Spec.BucketName
	ok, err := c.Exists(ctx)
	if err != nil {
		return reconcile.Failed(bucketFailedReason, fmt.Errorf("failed to confirm existence of '%s' bucket: %w", name, err))
	}
	if !ok {
		return reconcile.Failed(bucketFailedReason, fmt.Errorf("bucket '%s' not found", name))
	}
	rootIgnore, err := c.ReadIgnoreFile(ctx)
	if err != nil {
		return reconcile.Failed(bucketFailedReason, fmt.Errorf("failed to get '%s' object: %w", bucket.IgnoreFile, err))
	}
	filter := git.NewKeyFilter(rootIgnore, obj.Spec.Ignore)
	ix, err := c.List(ctx, obj.Spec.Prefix, func(key string) bool { return filter.Excluded(key, false) })
	if err != nil {
		return reconcile.Failed(bucketFailedReason, fmt.Errorf("indexation of objects from bucket '%s' failed: %w", name, err))
	}
	revision := ix.Digest()
	if a := obj.Status.Artifact; a != nil && a.Revision == revision && equalPtr(obj.Status.ObservedIgnore, obj.Spec.Ignore) && storedAt(r.Store, a) {
		return nil
	}
	conds := reconcile.Conditions{List: &obj.Status.Conditions, Generation: obj.Generation}
	if obj.Status.Artifact != nil {
		conds.True(compat.ArtifactOutdatedCondition, compat.NewRevisionReason, fmt.Sprintf("new upstream revision '%s'", revision))
	}
	progress(fmt.Sprintf("building artifact: new upstream revision '%s'", revision))

	tmp, err := os.MkdirTemp(r.TempDir, "bucket-")
	if err != nil {
		return reconcile.Failed(compat.StorageOperationFailedReason, fmt.Errorf("create temporary directory: %w", err))
	}
	defer os.RemoveAll(tmp)
	maxSize := r.MaxSize
	if maxSize <= 0 {
		maxSize = artifact.DefaultMaxExtractSize
	}
	if err := c.Download(ctx, ix, tmp, bucketConcurrency, maxSize); err != nil {
		return reconcile.Failed(bucketFailedReason, fmt.Errorf("fetch from bucket '%s' failed: %w", name, err))
	}
	// Objects changed or vanished while downloading: the revision is what was fetched.
	revision = ix.Digest()
	hex := strings.TrimPrefix(revision, "sha256:")
	rec, err := r.Store.Archive(ctx, storeObject(sourcev1.BucketKind, obj), hex+".tar.gz", revision, tmp, nil)
	if err != nil {
		return reconcile.Failed(compat.ArchiveOperationFailedReason, fmt.Errorf("unable to archive artifact to storage: %w", err))
	}
	previous := ""
	if obj.Status.Artifact != nil {
		previous = obj.Status.Artifact.Revision
	}
	obj.Status.Artifact = artifactOf(rec)
	obj.Status.URL = rec.URL
	obj.Status.ObservedIgnore = obj.Spec.Ignore
	if _, err := r.Store.GC(ctx, storeObject(sourcev1.BucketKind, obj), rec.Path); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "garbage collection of old artifacts failed")
	}
	if previous != revision {
		r.Recorder.Normal(obj, "NewArtifact", map[string]string{compat.RevisionMetaKey: revision, compat.DigestMetaKey: rec.Digest},
			"stored artifact with %d fetched files from '%s' bucket", len(ix), name)
	}
	return nil
}

// options builds the client options of a Bucket: provider, static keys (accesskey,
// secretkey), STS, TLS (certSecretRef) and proxy.
func (r *BucketReconciler) options(ctx context.Context, obj *sourcev1.Bucket) (bucket.Options, error) {
	opts := bucket.Options{Endpoint: obj.Spec.Endpoint, Insecure: obj.Spec.Insecure, Region: obj.Spec.Region}
	provider := obj.Spec.Provider
	switch provider {
	case "", sourcev1.BucketProviderGeneric, sourcev1.BucketProviderAmazon:
	default:
		return opts, reconcile.Stalled(invalidProviderReason, fmt.Errorf(
			"provider '%s' is not supported by weir: use 'generic' (any S3-compatible API, including the cloud's S3 interoperability endpoints) or 'aws'", provider))
	}
	if err := validateSTS(obj); err != nil {
		return opts, err
	}
	if obj.Spec.SecretRef != nil {
		s, err := getSecret(ctx, r.Client, obj.Namespace, obj.Spec.SecretRef.Name)
		if err != nil {
			return opts, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get secret '%s/%s': %w", obj.Namespace, obj.Spec.SecretRef.Name, err))
		}
		opts.AccessKey, opts.SecretKey = string(s.Data["accesskey"]), string(s.Data["secretkey"])
		if opts.AccessKey == "" || opts.SecretKey == "" {
			return opts, reconcile.Failed(compat.AuthenticationFailedReason,
				fmt.Errorf("invalid '%s' secret data: required fields 'accesskey' and 'secretkey'", s.Name))
		}
	} else if provider == sourcev1.BucketProviderAmazon && obj.Spec.STS == nil {
		// The instance's or pod's role, through the metadata or web identity endpoints.
		opts.Credentials = credentials.NewIAM("")
	}
	tlsOpts := oci.Options{}
	if obj.Spec.CertSecretRef != nil && !obj.Spec.Insecure {
		var err error
		if tlsOpts, err = certOptions(ctx, r.Client, obj.Namespace, obj.Spec.CertSecretRef); err != nil {
			return opts, err
		}
	}
	if obj.Spec.ProxySecretRef != nil {
		p, err := proxyURL(ctx, r.Client, obj.Namespace, obj.Spec.ProxySecretRef.Name)
		if err != nil {
			return opts, err
		}
		tlsOpts.Proxy = p
	}
	t, err := tlsOpts.Transport()
	if err != nil {
		return opts, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get TLS config: %w", err))
	}
	opts.Transport = t
	if obj.Spec.STS != nil {
		creds, err := r.stsCredentials(ctx, obj)
		if err != nil {
			return opts, err
		}
		opts.Credentials = creds
	}
	return opts, nil
}

// validateSTS applies Flux's rules to spec.sts: generic buckets take provider ldap, aws buckets
// provider aws (without Secrets), other providers none.
func validateSTS(obj *sourcev1.Bucket) error {
	sts := obj.Spec.STS
	if sts == nil {
		return nil
	}
	provider := obj.Spec.Provider
	if provider == "" {
		provider = sourcev1.BucketProviderGeneric
	}
	var want string
	switch provider {
	case sourcev1.BucketProviderGeneric:
		want = sourcev1.STSProviderLDAP
	case sourcev1.BucketProviderAmazon:
		want = sourcev1.STSProviderAmazon
	default:
		return reconcile.Stalled(compat.InvalidSTSConfigurationReason, fmt.Errorf("STS configuration is not supported for '%s' bucket provider", provider))
	}
	if sts.Provider != want {
		return reconcile.Stalled(compat.InvalidSTSConfigurationReason, fmt.Errorf("STS provider '%s' is not supported for '%s' bucket provider", sts.Provider, provider))
	}
	if want == sourcev1.STSProviderAmazon {
		if sts.SecretRef != nil {
			return reconcile.Stalled(compat.InvalidSTSConfigurationReason, errors.New("spec.sts.secretRef is not required for the 'aws' STS provider"))
		}
		if sts.CertSecretRef != nil {
			return reconcile.Stalled(compat.InvalidSTSConfigurationReason, errors.New("spec.sts.certSecretRef is not required for the 'aws' STS provider"))
		}
	}
	u, err := url.Parse(sts.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return reconcile.Stalled(compat.URLInvalidReason, fmt.Errorf("invalid STS endpoint '%s'", sts.Endpoint))
	}
	return nil
}

// stsCredentials returns the temporary credentials of spec.sts: LDAP identity from the STS
// endpoint (username, password in sts.secretRef, CA in sts.certSecretRef), or the AWS role.
func (r *BucketReconciler) stsCredentials(ctx context.Context, obj *sourcev1.Bucket) (*credentials.Credentials, error) {
	sts := obj.Spec.STS
	if sts.Provider == sourcev1.STSProviderAmazon {
		return credentials.NewIAM(sts.Endpoint), nil
	}
	var user, pass string
	if sts.SecretRef != nil {
		s, err := getSecret(ctx, r.Client, obj.Namespace, sts.SecretRef.Name)
		if err != nil {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get STS secret: %w", err))
		}
		user, pass = string(s.Data["username"]), string(s.Data["password"])
		if user == "" || pass == "" {
			return nil, reconcile.Failed(compat.AuthenticationFailedReason,
				fmt.Errorf("invalid '%s' secret data for 'ldap' STS provider: required fields username, password", s.Name))
		}
	}
	tlsOpts, err := certOptions(ctx, r.Client, obj.Namespace, sts.CertSecretRef)
	if err != nil {
		return nil, err
	}
	t, err := tlsOpts.Transport()
	if err != nil {
		return nil, reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("failed to get STS TLS config: %w", err))
	}
	creds, err := credentials.NewLDAPIdentity(sts.Endpoint, user, pass, func(l *credentials.LDAPIdentity) {
		l.Client = &http.Client{Transport: t}
	})
	if err != nil {
		return nil, reconcile.Stalled(compat.InvalidSTSConfigurationReason, fmt.Errorf("LDAP STS: %w", err))
	}
	return creds, nil
}

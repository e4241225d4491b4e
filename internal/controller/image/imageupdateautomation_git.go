package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/ProtonMail/go-crypto/openpgp"
	imageautov1 "github.com/fluxcd/image-automation-controller/api/v1"
	imagev1 "github.com/fluxcd/image-reflector-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/faultpoint"
	"github.com/weirgitops/weir/internal/reconcile"
	"github.com/weirgitops/weir/internal/setters"
	"github.com/weirgitops/weir/internal/source/git"
)

// defaultMessage is Flux's commit message when spec.git.commit.messageTemplate is empty.
const defaultMessage = "Update from image update automation"

// errPushRejected means the push was refused because the branch moved meanwhile.
var errPushRejected = errors.New("push rejected: the branch moved")

// gitPlan is where to check out from and push to, and with which credentials.
type gitPlan struct {
	url      string
	checkout git.Reference
	// pushBranch is the branch the commit goes to ("" with only a refspec); pushRefs are
	// the full destinations.
	pushBranch string
	pushRefs   []string
	auth       git.Auth
}

// source gets the automation's GitRepository.
func (r *ImageUpdateAutomationReconciler) source(ctx context.Context, obj *imageautov1.ImageUpdateAutomation) (*sourcev1.GitRepository, error) {
	ref := obj.Spec.SourceRef
	if ref.Kind != sourcev1.GitRepositoryKind {
		return nil, reconcile.Stalled(imageautov1.InvalidSourceConfigReason,
			fmt.Errorf("source kind '%s' is not supported: only GitRepository is", ref.Kind))
	}
	ns := ref.Namespace
	if ns == "" {
		ns = obj.Namespace
	}
	if ns != obj.Namespace && r.NoCrossNamespaceRefs {
		return nil, reconcile.Stalled(compat.AccessDeniedReason,
			fmt.Errorf("can't access '%s/%s/%s', cross-namespace references have been blocked", ref.Kind, ns, ref.Name))
	}
	var src sourcev1.GitRepository
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, &src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconcile.Waiting(imageautov1.InvalidSourceConfigReason, r.RequeueDependency,
				fmt.Errorf("referenced GitRepository '%s/%s' does not exist", ns, ref.Name))
		}
		return nil, fmt.Errorf("get GitRepository '%s/%s': %w", ns, ref.Name, err)
	}
	return &src, nil
}

// policies lists the ImagePolicies of the namespace that policySelector selects and that
// have selected an image, keyed as markers name them ("namespace:name").
func (r *ImageUpdateAutomationReconciler) policies(ctx context.Context, obj *imageautov1.ImageUpdateAutomation) (map[string]setters.Image, imageautov1.ObservedPolicies, error) {
	opts := []client.ListOption{client.InNamespace(obj.Namespace)}
	if obj.Spec.PolicySelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(obj.Spec.PolicySelector)
		if err != nil {
			return nil, nil, reconcile.Stalled(imageautov1.InvalidPolicySelectorReason, fmt.Errorf("invalid policy selector: %w", err))
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	var list imagev1.ImagePolicyList
	if err := r.List(ctx, &list, opts...); err != nil {
		return nil, nil, fmt.Errorf("list ImagePolicies: %w", err)
	}
	images := map[string]setters.Image{}
	observed := imageautov1.ObservedPolicies{}
	for _, p := range list.Items {
		ref := p.Status.LatestRef
		if ref == nil {
			continue
		}
		images[p.Namespace+":"+p.Name] = setters.Image{Name: ref.Name, Tag: ref.Tag, Digest: ref.Digest}
		observed[p.Name] = imageautov1.ImageRef{Name: ref.Name, Tag: ref.Tag, Digest: ref.Digest}
	}
	return images, observed, nil
}

// gitPlan reads the credentials of the GitRepository, as its source reconciler does (GitHub
// App tokens included), and decides the checkout and push references.
func (r *ImageUpdateAutomationReconciler) gitPlan(ctx context.Context, obj *imageautov1.ImageUpdateAutomation, src *sourcev1.GitRepository) (gitPlan, error) {
	p := gitPlan{url: src.Spec.URL}
	auth, err := r.gitAuth().Auth(ctx, r.Client, src)
	if err != nil {
		return p, err
	}
	p.auth = auth
	gs := obj.Spec.GitSpec
	ref := src.Spec.Reference
	if gs.Checkout != nil {
		ref = &gs.Checkout.Reference
	}
	if ref != nil {
		p.checkout = git.Reference{Branch: ref.Branch, Tag: ref.Tag, SemVer: ref.SemVer, Name: ref.Name, Commit: ref.Commit}
	}
	if p.checkout == (git.Reference{}) {
		p.checkout.Branch = git.DefaultBranch
	}
	p.pushBranch = p.checkout.Branch
	if gs.Push != nil && gs.Push.Branch != "" {
		p.pushBranch = gs.Push.Branch
	}
	if gs.Push != nil && gs.Push.Refspec != "" {
		p.pushRefs = append(p.pushRefs, gs.Push.Refspec)
		if gs.Push.Branch == "" {
			p.pushBranch = ""
		}
	}
	if p.pushBranch != "" {
		p.pushRefs = append([]string{"refs/heads/" + p.pushBranch}, p.pushRefs...)
	}
	if len(p.pushRefs) == 0 {
		return p, reconcile.Stalled(imageautov1.InvalidSourceConfigReason,
			errors.New("no branch to push to: set spec.git.push.branch, or check out a branch"))
	}
	return p, nil
}

func (r *ImageUpdateAutomationReconciler) secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := r.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("secret '%s/%s' not found", ns, name)
		}
		return nil, fmt.Errorf("get secret '%s/%s': %w", ns, name, err)
	}
	return &s, nil
}

// attempt is one checkout, update, commit and push. A push branch other than the checkout
// branch that already exists is checked out itself, so the new commit goes on top of it and
// no force is needed.
func (r *ImageUpdateAutomationReconciler) attempt(ctx context.Context, obj *imageautov1.ImageUpdateAutomation, src *sourcev1.GitRepository,
	plan gitPlan, images map[string]setters.Image) (runResult, error) {
	var res runResult
	dir, err := os.MkdirTemp(r.TempDir, "imageupdate-")
	if err != nil {
		return res, reconcile.Failed(imageautov1.GitOperationFailedReason, fmt.Errorf("create temporary directory: %w", err))
	}
	defer os.RemoveAll(dir)
	opts := git.Options{URL: plan.url, Reference: plan.checkout, Auth: plan.auth}
	if plan.pushBranch != "" && plan.pushBranch != plan.checkout.Branch {
		pushOpts := git.Options{URL: plan.url, Reference: git.Reference{Branch: plan.pushBranch}, Auth: plan.auth}
		if _, err := git.LatestRevision(ctx, pushOpts); err == nil {
			opts = pushOpts
		} else if !errors.Is(err, git.ErrReferenceNotFound) {
			return res, gitError("failed to look up the push branch", err)
		}
	}
	co, err := git.Clone(ctx, dir, opts)
	if err != nil {
		return res, gitError("failed to clone", err)
	}
	path := "."
	if obj.Spec.Update != nil && obj.Spec.Update.Path != "" {
		path = obj.Spec.Update.Path
	}
	result, problems, err := setters.UpdateDir(dir, path, images)
	if err != nil {
		return res, reconcile.Failed(imageautov1.UpdateFailedReason, fmt.Errorf("failed to apply the policies to '%s': %w", path, err))
	}
	res.problems = describeProblems(problems)
	if len(result.FileChanges) == 0 {
		res.message = "repository up-to-date"
		return res, nil
	}
	gs := obj.Spec.GitSpec
	message, err := commitMessage(obj, result)
	if err != nil {
		return res, err
	}
	signer, err := r.signer(ctx, obj)
	if err != nil {
		return res, err
	}
	name := gs.Commit.Author.Name
	if name == "" {
		name = gs.Commit.Author.Email
	}
	commit, err := co.Commit(message, git.Signature{Name: name, Email: gs.Commit.Author.Email, When: r.now()}, signer)
	if errors.Is(err, git.ErrNothingToCommit) {
		res.message = "repository up-to-date"
		return res, nil
	}
	if err != nil {
		return res, reconcile.Failed(imageautov1.GitOperationFailedReason, fmt.Errorf("failed to commit: %w", err))
	}
	var options map[string]string
	if gs.Push != nil {
		options = gs.Push.Options
	}
	faultpoint.Hit(faultpoint.ImageAutomationPushing)
	if err := co.Push(ctx, opts, commit, plan.pushRefs, options); err != nil {
		// The push branch moved meanwhile when its head is no longer what this commit was made
		// on, or when it now exists and was not checked out (another writer created it).
		if plan.pushBranch != "" {
			head, herr := git.LatestRevision(ctx, git.Options{URL: plan.url, Reference: git.Reference{Branch: plan.pushBranch}, Auth: plan.auth})
			clonedPush := opts.Reference.Branch == plan.pushBranch
			if herr == nil && (!clonedPush || head.Hash != co.Revision.Hash) {
				return res, fmt.Errorf("%w: %w", errPushRejected, err)
			}
		}
		return res, gitError("failed to push", err)
	}
	res.pushed, res.branch, res.commitMessage = commit, plan.pushBranch, message
	if res.branch == "" {
		res.branch = plan.pushRefs[0]
	}
	res.pushedToCheckout = plan.pushBranch != "" && plan.pushBranch == plan.checkout.Branch
	return res, nil
}

// describeProblems lists what was skipped, bounded.
func describeProblems(problems []setters.Problem) string {
	if len(problems) == 0 {
		return ""
	}
	const maxListed = 5
	var b strings.Builder
	for i, p := range problems {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(problems)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	return b.String()
}

// templateData is what a commit message template sees, as Flux's: .AutomationObject,
// .Changed (FileChanges, Changes, Objects) and .Values.
type templateData struct {
	AutomationObject struct{ Name, Namespace string }
	Changed          setters.Result
	Values           map[string]string
}

// commitMessage renders spec.git.commit.messageTemplate. The fields Flux removed in 2.7
// (.Updated, .Changed.ImageResult) stall the automation with RemovedTemplateField.
func commitMessage(obj *imageautov1.ImageUpdateAutomation, changed setters.Result) (string, error) {
	tpl := obj.Spec.GitSpec.Commit.MessageTemplate
	if tpl == "" {
		return defaultMessage, nil
	}
	for _, removed := range []string{".Updated", ".Changed.ImageResult"} {
		if strings.Contains(tpl, removed) {
			return "", reconcile.Stalled(imageautov1.RemovedTemplateFieldReason,
				fmt.Errorf("template uses %s, which Flux removed in v2.7: use .Changed.Changes or .Changed.Objects", removed))
		}
	}
	t, err := template.New("commit message").Funcs(sprig.TxtFuncMap()).Parse(tpl)
	if err != nil {
		return "", reconcile.Stalled(imageautov1.UpdateFailedReason, fmt.Errorf("unable to create commit message template from spec: %w", err))
	}
	data := templateData{Changed: changed, Values: obj.Spec.GitSpec.Commit.MessageTemplateValues}
	data.AutomationObject.Name, data.AutomationObject.Namespace = obj.Name, obj.Namespace
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", reconcile.Stalled(imageautov1.UpdateFailedReason, fmt.Errorf("failed to run template from spec: %w", err))
	}
	if b.Len() > 64<<10 {
		return "", reconcile.Stalled(imageautov1.UpdateFailedReason, errors.New("commit message template renders more than 64 KiB"))
	}
	return b.String(), nil
}

// signer reads spec.git.commit.signingKey: with type gpg (default) an armored OpenPGP
// private key in 'git.asc', unlocked with 'passphrase'; with type ssh an OpenSSH private key
// in 'identity', unlocked with 'password'.
func (r *ImageUpdateAutomationReconciler) signer(ctx context.Context, obj *imageautov1.ImageUpdateAutomation) (git.Signer, error) {
	sk := obj.Spec.GitSpec.Commit.SigningKey
	if sk == nil {
		return git.Signer{}, nil
	}
	s, err := r.secret(ctx, obj.Namespace, sk.SecretRef.Name)
	if err != nil {
		return git.Signer{}, reconcile.Failed(imageautov1.InvalidSourceConfigReason, fmt.Errorf("could not find signing key: %w", err))
	}
	invalid := func(format string, args ...any) error {
		return reconcile.Stalled(imageautov1.InvalidSourceConfigReason,
			fmt.Errorf("signing key secret '%s/%s': "+format, append([]any{obj.Namespace, sk.SecretRef.Name}, args...)...))
	}
	if sk.Type == imageautov1.SigningKeyTypeSSH {
		if len(s.Data["identity"]) == 0 {
			return git.Signer{}, invalid("no 'identity'")
		}
		key, err := git.ParseSSHSigningKey(s.Data["identity"], s.Data["password"])
		if err != nil {
			return git.Signer{}, invalid("'identity' is not an OpenSSH private key that 'password' unlocks")
		}
		return git.Signer{SSH: key}, nil
	}
	data := s.Data["git.asc"]
	if len(data) == 0 {
		return git.Signer{}, invalid("no 'git.asc'")
	}
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	if err != nil || len(ring) == 0 {
		return git.Signer{}, invalid("'git.asc' is not an armored OpenPGP key")
	}
	e := ring[0]
	if e.PrivateKey == nil {
		return git.Signer{}, invalid("'git.asc' holds no private key")
	}
	if e.PrivateKey.Encrypted {
		if err := e.DecryptPrivateKeys(s.Data["passphrase"]); err != nil {
			return git.Signer{}, invalid("cannot decrypt the key with 'passphrase'")
		}
	}
	return git.Signer{PGP: e}, nil
}

// requestFetch asks the GitRepository to fetch now, as `weir reconcile source git` does: its
// reconciler sees the annotation on its watch within milliseconds, in this same process.
func (r *ImageUpdateAutomationReconciler) requestFetch(ctx context.Context, src *sourcev1.GitRepository) {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, compat.ReconcileRequestAnnotation, metav1.Now().Format("2006-01-02T15:04:05.000000000Z07:00"))
	if err := r.Patch(ctx, src, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		ctrl.LoggerFrom(ctx).Info("cannot request a fetch of the GitRepository", "error", err.Error())
	}
}

// gitError classifies a Git failure.
func gitError(what string, err error) error {
	if errors.Is(err, git.ErrAuthentication) {
		return reconcile.Failed(compat.AuthenticationFailedReason, fmt.Errorf("%s: %w", what, err))
	}
	if errors.Is(err, git.ErrInvalidURL) {
		return reconcile.Stalled(imageautov1.InvalidSourceConfigReason, fmt.Errorf("%s: %w", what, err))
	}
	return reconcile.Failed(imageautov1.GitOperationFailedReason, fmt.Errorf("%s: %w", what, err))
}

func shortHash(h string) string {
	if len(h) > 7 {
		return h[:7]
	}
	return h
}

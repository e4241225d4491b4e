package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"github.com/go-git/go-git/v5/plumbing/transport"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/install"
	"github.com/weirgitops/weir/internal/redact"
)

// Options are one bootstrap's settings.
type Options struct {
	Sync    SyncOptions
	Install install.Options
	// PushURL and PushAuth are how bootstrap itself clones and pushes.
	PushURL  string
	PushAuth transport.AuthMethod
	// CABundle verifies the Git server's TLS certificate; it goes in the Secret as ca.crt too.
	CABundle []byte
	// Author and email of the commit; CommitMessageAppendix is added to its message.
	AuthorName, AuthorEmail, CommitMessageAppendix string
	// Credentials are those of the sync Secret.
	Credentials Credentials
	// PollInterval is how often the waits look.
	PollInterval time.Duration
	Out          io.Writer
}

// Credentials are how the cluster fetches the repository.
type Credentials struct {
	// Username and Password, when Username is set, are HTTPS basic auth (token auth).
	Username, Password string
	// Key returns the SSH key pair of a new Secret (generated, or loaded from a file); a
	// Secret that already holds an identity is kept. KnownHosts is the server's host key.
	Key        func() (KeyPair, error)
	KnownHosts []byte
	// OnNewKey is told the public key of a new Secret: the GitHub provider adds it as the
	// deploy key, the plain Git provider prints it.
	OnNewKey func(ctx context.Context, public string) error
}

// Run commits and pushes the bootstrap files, installs weir unless the sync already works,
// writes the sync Secret, applies the sync manifests and waits until the cluster applied the
// pushed commit.
func Run(ctx context.Context, c client.Client, o Options) error {
	out := o.Out
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	tmp, err := os.MkdirTemp("", "weir-bootstrap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Fprintf(out, "► cloning branch %q from Git repository %q\n", o.Sync.Branch, redact.Text(o.PushURL))
	co, err := Clone(ctx, tmp, o.PushURL, o.PushAuth, o.Sync.Branch, o.CABundle, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "✔ cloned repository")
	files, err := Files(o.Install, o.Sync)
	if err != nil {
		return err
	}
	if err := co.Write(files); err != nil {
		return err
	}
	msg := "Add weir " + o.Install.Version + " components and sync manifests"
	if o.CommitMessageAppendix != "" {
		msg += "\n\n" + o.CommitMessageAppendix
	}
	changed, err := co.Commit(files, msg, o.AuthorName, o.AuthorEmail)
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(out, "► pushing component and sync manifests to %q\n", o.Sync.Branch)
		if err := co.Push(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "✔ committed and pushed manifests to %q (%q)\n", o.Sync.Branch, co.Head())
	} else {
		fmt.Fprintln(out, "✔ component and sync manifests are up to date")
	}
	head := co.Head()

	working, err := syncWorking(ctx, c, o.Sync.Namespace)
	if err != nil {
		return err
	}
	if !working {
		fmt.Fprintf(out, "► installing weir in %q namespace\n", o.Sync.Namespace)
		if err := installWeir(ctx, c, o.Install); err != nil {
			return err
		}
		fmt.Fprintln(out, "✔ installed weir")
	}

	if err := ensureSecret(ctx, c, o); err != nil {
		return err
	}
	sync, err := SyncManifests(o.Sync)
	if err != nil {
		return err
	}
	objs, err := install.Decode(sync)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "► applying sync manifests")
	if err := install.Apply(ctx, c, objs); err != nil {
		return err
	}
	fmt.Fprintln(out, "✔ reconciled sync configuration")
	return waitSync(ctx, c, o, o.Sync.Branch+"@sha1:"+head)
}

// syncWorking reports whether the cluster's sync Kustomization exists and is Ready: then the
// pushed components are applied by it, and installing them again is not needed.
func syncWorking(ctx context.Context, c client.Client, ns string) (bool, error) {
	var ks kustomizev1.Kustomization
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: ns}, &ks)
	switch {
	case apierrors.IsNotFound(err) || apimeta.IsNoMatchError(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("get Kustomization %s/%s: %w", ns, ns, err)
	}
	return apimeta.IsStatusConditionTrue(ks.Status.Conditions, "Ready"), nil
}

// installWeir applies weir's install, CRDs first, and waits for the controller.
func installWeir(ctx context.Context, c client.Client, o install.Options) error {
	objs, err := install.Objects(o)
	if err != nil {
		return err
	}
	var crds, rest = objs[:0:0], objs[:0:0]
	for _, obj := range objs {
		if obj.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, obj)
		} else {
			rest = append(rest, obj)
		}
	}
	if err := install.Apply(ctx, c, crds); err != nil {
		return err
	}
	if err := install.WaitCRDs(ctx, c, crds); err != nil {
		return err
	}
	if err := install.Apply(ctx, c, rest); err != nil {
		return err
	}
	return install.WaitDeployment(ctx, c, o.Namespace)
}

// ensureSecret writes the sync Secret: basic auth always (the token may have changed), an SSH
// identity only when the Secret has none yet (a new deploy key each run would break the
// cluster's access, and make a second run change GitHub).
func ensureSecret(ctx context.Context, c client.Client, o Options) error {
	ns, name := o.Sync.Namespace, o.Sync.SecretName
	var s corev1.Secret
	err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("get Secret %s/%s: %w", ns, name, err)
	}
	cr := o.Credentials
	data := map[string][]byte{}
	switch {
	case cr.Username != "":
		data["username"], data["password"] = []byte(cr.Username), []byte(cr.Password)
		if len(o.CABundle) > 0 {
			data["ca.crt"] = o.CABundle
		}
	case exists && len(s.Data["identity"]) > 0:
		fmt.Fprintf(o.Out, "✔ source secret %s/%s has an SSH identity: kept\n", ns, name)
		return nil
	case cr.Key == nil:
		return errors.New("no credentials for the sync Secret")
	default:
		kp, err := cr.Key()
		if err != nil {
			return err
		}
		data["identity"], data["identity.pub"], data["known_hosts"] = kp.PrivateKey, []byte(kp.PublicKey+"\n"), cr.KnownHosts
		if cr.OnNewKey != nil {
			if err := cr.OnNewKey(ctx, kp.PublicKey); err != nil {
				return err
			}
		}
	}
	s = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := c.Get(ctx, client.ObjectKeyFromObject(&s), &s); err != nil {
		s.Data = data
		if err := c.Create(ctx, &s); err != nil {
			return fmt.Errorf("create Secret %s/%s: %w", ns, name, err)
		}
	} else {
		s.Data = data
		if err := c.Update(ctx, &s); err != nil {
			return fmt.Errorf("update Secret %s/%s: %w", ns, name, err)
		}
	}
	fmt.Fprintf(o.Out, "✔ reconciled source secret %s/%s\n", ns, name)
	return nil
}

// waitSync waits until the GitRepository has the pushed revision and the Kustomization applied it.
func waitSync(ctx context.Context, c client.Client, o Options, revision string) error {
	ns := o.Sync.Namespace
	key := client.ObjectKey{Namespace: ns, Name: ns}
	fmt.Fprintf(o.Out, "◎ waiting for GitRepository %q to be reconciled\n", key)
	err := poll(ctx, o.PollInterval, func() (bool, string) {
		var gr sourcev1.GitRepository
		if err := c.Get(ctx, key, &gr); err != nil {
			return false, err.Error()
		}
		if gr.Status.Artifact == nil || gr.Status.Artifact.Revision != revision {
			if r := apimeta.FindStatusCondition(gr.Status.Conditions, "Ready"); r != nil {
				return false, r.Message
			}
			return false, "no artifact yet"
		}
		return true, ""
	})
	if err != nil {
		return fmt.Errorf("GitRepository %s: %w", key, err)
	}
	fmt.Fprintln(o.Out, "✔ GitRepository reconciled successfully")
	fmt.Fprintf(o.Out, "◎ waiting for Kustomization %q to be reconciled\n", key)
	err = poll(ctx, o.PollInterval, func() (bool, string) {
		var ks kustomizev1.Kustomization
		if err := c.Get(ctx, key, &ks); err != nil {
			return false, err.Error()
		}
		r := apimeta.FindStatusCondition(ks.Status.Conditions, "Ready")
		if ks.Status.LastAppliedRevision == revision && r != nil && r.Status == metav1.ConditionTrue {
			return true, ""
		}
		if r != nil {
			return false, r.Message
		}
		return false, "not reconciled yet"
	})
	if err != nil {
		return fmt.Errorf("Kustomization %s: %w", key, err) //nolint:staticcheck // the kind's name
	}
	fmt.Fprintln(o.Out, "✔ Kustomization reconciled successfully")
	fmt.Fprintln(o.Out, "✔ bootstrap finished")
	return nil
}

// poll calls cond every interval until it is done or ctx ends; the error then says what cond
// last reported.
func poll(ctx context.Context, interval time.Duration, cond func() (bool, string)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	last := ""
	for {
		done, why := cond()
		if done {
			return nil
		}
		last = why
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), redact.Text(last))
		case <-tick.C:
		}
	}
}

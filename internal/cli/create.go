package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// createFlags are the flags every `create` sub-command shares.
type createFlags struct {
	export   bool
	interval time.Duration
	labels   []string
}

func newCreateCommand(g *globals) *cobra.Command {
	f := &createFlags{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create or update sources and resources",
		Long:  "The create sub-commands generate sources and resources, and apply them or print them with --export.",
	}
	pf := cmd.PersistentFlags()
	pf.BoolVar(&f.export, "export", false, "export in YAML format to stdout")
	pf.DurationVar(&f.interval, "interval", time.Minute, "source sync interval")
	pf.StringSliceVar(&f.labels, "label", nil, "set labels on the resource (can specify multiple labels with commas: label1=value1,label2=value2)")

	source := &cobra.Command{Use: "source", Short: "Create or update sources"}
	source.AddCommand(createSourceGitCommand(g, f), createSourceHelmCommand(g, f),
		createSourceOCICommand(g, f), createSourceBucketCommand(g, f), createSourceChartCommand(g, f))
	image := &cobra.Command{Use: "image", Short: "Create or update resources dealing with image automation"}
	image.AddCommand(createImageRepositoryCommand(g, f), createImagePolicyCommand(g, f), createImageUpdateCommand(g, f))
	secret := &cobra.Command{Use: "secret", Short: "Create or update Kubernetes secrets"}
	secret.AddCommand(createSecretGitCommand(g, f), createSecretHelmCommand(g, f), createSecretOCICommand(g, f),
		createSecretTLSCommand(g, f), createSecretGitHubAppCommand(g, f), createSecretReceiverCommand(g, f),
		createSecretProxyCommand(g, f), createSecretNotationCommand(g, f))
	cmd.AddCommand(source, image, secret,
		createKustomizationCommand(g, f), createHelmReleaseCommand(g, f),
		createAlertProviderCommand(g, f), createAlertCommand(g, f), createReceiverCommand(g, f),
		createTenantCommand(g, f))
	return cmd
}

// objectMeta is the metadata of a created object: name, the command's namespace and --label.
func (f *createFlags) objectMeta(g *globals, name string) (metav1.ObjectMeta, error) {
	m := metav1.ObjectMeta{Name: name, Namespace: g.namespace}
	labels, err := parseLabelFlags(f.labels)
	if err != nil {
		return m, err
	}
	if len(labels) > 0 {
		m.Labels = labels
	}
	return m, nil
}

// toMap turns a typed object into the map flux prints: apiVersion, kind, metadata without
// server fields, spec (or a Secret's type and data), and no status.
func toMap(obj client.Object, gvk schema.GroupVersionKind) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", gvk.Kind, err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	delete(m, "status")
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	return m, nil
}

// emit prints the object with --export, or applies it with server-side apply as the weir field
// manager and, for kinds with status, waits until it is Ready.
func emit(cmd *cobra.Command, g *globals, f *createFlags, obj client.Object, gvk schema.GroupVersionKind, what string, k *fluxKind) error {
	m, err := toMap(obj, gvk)
	if err != nil {
		return err
	}
	if f.export {
		return printYAMLDocs(g.out, []map[string]any{m})
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	fmt.Fprintf(g.out, "► applying %s\n", what)
	if err := applyMap(ctx, c, m); err != nil {
		return err
	}
	fmt.Fprintf(g.out, "✔ %s %s/%s applied\n", what, obj.GetNamespace(), obj.GetName())
	if k == nil || k.NoStatus {
		return nil
	}
	fmt.Fprintf(g.out, "◎ waiting for %s reconciliation\n", what)
	u, err := waitHandled(ctx, c, k, obj.GetNamespace(), obj.GetName(), "")
	if err != nil {
		return err
	}
	fmt.Fprintf(g.out, "✔ %s %s is ready\n", k.Kind, obj.GetName())
	if msg := k.successMessage(u); msg != "" {
		fmt.Fprintf(g.out, "✔ %s\n", msg)
	}
	return nil
}

// applyMap server-side applies one object as the weir field manager.
func applyMap(ctx context.Context, c client.Client, m map[string]any) error {
	u := &unstructured.Unstructured{Object: m}
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("apply %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

// secretMap is a Secret as flux's create secret prints it: stringData, with a type when set.
func secretMap(meta metav1.ObjectMeta, typ corev1.SecretType, data map[string]string) map[string]any {
	md := map[string]any{"name": meta.Name, "namespace": meta.Namespace}
	if len(meta.Labels) > 0 {
		md["labels"] = meta.Labels
	}
	m := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": md, "stringData": data}
	if typ != "" {
		m["type"] = string(typ)
	}
	return m
}

// emitSecret prints or applies a Secret.
func emitSecret(cmd *cobra.Command, g *globals, f *createFlags, m map[string]any) error {
	if f.export {
		return printYAMLDocs(g.out, []map[string]any{m})
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	if err := applyMap(ctx, c, m); err != nil {
		return err
	}
	md := m["metadata"].(map[string]any)
	fmt.Fprintf(g.out, "✔ secret '%s' created in '%s' namespace\n", md["name"], md["namespace"])
	return nil
}

// parseKindRef parses flux's "<kind>/<name>.<namespace>" (the kind and namespace optional),
// canonicalising the kind against allowed; def is the kind when none is given.
func parseKindRef(s, def string, allowed []string) (kind, name, ns string, err error) {
	kind, rest := def, s
	if k, r, ok := strings.Cut(s, "/"); ok {
		kind, rest = k, r
	}
	found := false
	for _, a := range allowed {
		if strings.EqualFold(a, kind) {
			kind, found = a, true
		}
	}
	if !found {
		return "", "", "", fmt.Errorf("source kind '%s' is not supported, must be one of: %s", kind, strings.Join(allowed, ", "))
	}
	name = rest
	if i := strings.LastIndex(rest, "."); i > 0 {
		name, ns = rest[:i], rest[i+1:]
	}
	if name == "" {
		return "", "", "", fmt.Errorf("invalid reference '%s': a name is required", s)
	}
	return kind, name, ns, nil
}

package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
)

// objMeta identifies an object in a tree, shaped as flux's JSON tree prints it.
type objMeta struct {
	Namespace string    `json:"Namespace"`
	Name      string    `json:"Name"`
	GroupKind groupKind `json:"GroupKind"`
}

type groupKind struct {
	Group string `json:"Group"`
	Kind  string `json:"Kind"`
}

func (o objMeta) String() string {
	if o.Namespace == "" {
		return o.GroupKind.Kind + "/" + o.Name
	}
	return o.GroupKind.Kind + "/" + o.Namespace + "/" + o.Name
}

// treeNode is an object and the objects it manages.
type treeNode struct {
	Resource objMeta     `json:"resource"`
	Children []*treeNode `json:"resources,omitempty"`
}

// maxTreeDepth bounds recursion through Kustomizations that manage each other.
const maxTreeDepth = 32

func newTreeCommand(g *globals) *cobra.Command {
	var compact bool
	var output string
	cmd := &cobra.Command{Use: "tree", Short: "Print the resources reconciled by Flux"}
	ks := &cobra.Command{
		Use:     "kustomization [name]",
		Aliases: []string{"ks", "kustomizations"},
		Short:   "Print the resources reconciled by a Kustomization",
		Example: `  # Print the resources managed by the root Kustomization
  weir tree kustomization flux-system

  # Print the Flux resources managed by the root Kustomization
  weir tree kustomization flux-system --compact`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			root := &treeNode{Resource: objMeta{Namespace: g.namespace, Name: args[0],
				GroupKind: groupKind{Group: kustomizeGV.Group, Kind: "Kustomization"}}}
			if err := kustomizationTree(ctx, c, root, compact, 0); err != nil {
				return err
			}
			switch output {
			case "json":
				enc := json.NewEncoder(g.out)
				enc.SetIndent("", "  ")
				return enc.Encode(root)
			case "":
				fmt.Fprintln(g.out, root.Resource.String())
				printTree(g.out, root.Children, "")
				return nil
			default:
				return fmt.Errorf("unknown output format %q: use json", output)
			}
		},
	}
	ks.Flags().BoolVar(&compact, "compact", false, "list Flux resources only")
	ks.Flags().StringVarP(&output, "output", "o", "", "the format in which the tree should be printed: json")
	cmd.AddCommand(ks)
	return cmd
}

func printTree(w io.Writer, nodes []*treeNode, prefix string) {
	for i, n := range nodes {
		branch, next := "├── ", "│   "
		if i == len(nodes)-1 {
			branch, next = "└── ", "    "
		}
		fmt.Fprintf(w, "%s%s%s\n", prefix, branch, n.Resource.String())
		printTree(w, n.Children, prefix+next)
	}
}

func isFluxNode(m objMeta) bool {
	return strings.HasSuffix(m.GroupKind.Group, ".toolkit.fluxcd.io")
}

// kustomizationTree fills node's children from the Kustomization's inventory, recursing into
// Kustomizations and HelmReleases it manages.
func kustomizationTree(ctx context.Context, c client.Client, node *treeNode, compact bool, depth int) error {
	var ks kustomizev1.Kustomization
	key := client.ObjectKey{Namespace: node.Resource.Namespace, Name: node.Resource.Name}
	if err := c.Get(ctx, key, &ks); err != nil {
		return fmt.Errorf("get Kustomization %s: %w", key, err)
	}
	if ks.Status.Inventory == nil || depth > maxTreeDepth {
		return nil
	}
	objs, err := apply.InventoryObjects(ks.Status.Inventory)
	if err != nil {
		return fmt.Errorf("read inventory of Kustomization %s: %w", key, err)
	}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		child := &treeNode{Resource: objMeta{Namespace: o.GetNamespace(), Name: o.GetName(),
			GroupKind: groupKind{Group: gvk.Group, Kind: gvk.Kind}}}
		if compact && !isFluxNode(child.Resource) {
			continue
		}
		switch {
		case gvk.Group == kustomizeGV.Group && gvk.Kind == "Kustomization":
			if err := kustomizationTree(ctx, c, child, compact, depth+1); err != nil {
				return err
			}
		case gvk.Group == helmGV.Group && gvk.Kind == "HelmRelease" && !compact:
			if err := helmReleaseTree(ctx, c, child); err != nil {
				return err
			}
		}
		node.Children = append(node.Children, child)
	}
	return nil
}

// helmReleaseTree adds the objects of the HelmRelease's current Helm release, read from the
// Helm storage Secret, as children.
func helmReleaseTree(ctx context.Context, c client.Client, node *treeNode) error {
	hr, err := getObject(ctx, c, hrKind, node.Resource.Namespace, node.Resource.Name)
	if apierrors.IsNotFound(err) {
		return nil // not there (yet): a leaf
	} else if err != nil {
		return err
	}
	if entries, ok, _ := unstructured.NestedSlice(hr.Object, "status", "inventory", "entries"); ok {
		inv := &kustomizev1.ResourceInventory{}
		for _, e := range entries {
			m, _ := e.(map[string]any)
			id, _ := m["id"].(string)
			v, _ := m["v"].(string)
			inv.Entries = append(inv.Entries, kustomizev1.ResourceRef{ID: id, Version: v})
		}
		objs, err := apply.InventoryObjects(inv)
		if err != nil {
			return fmt.Errorf("read inventory of HelmRelease %s/%s: %w", hr.GetNamespace(), hr.GetName(), err)
		}
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			node.Children = append(node.Children, &treeNode{Resource: objMeta{Namespace: o.GetNamespace(), Name: o.GetName(),
				GroupKind: groupKind{Group: gvk.Group, Kind: gvk.Kind}}})
		}
		return nil
	}
	storageNS, _, _ := unstructured.NestedString(hr.Object, "spec", "storageNamespace")
	if storageNS == "" {
		storageNS = hr.GetNamespace()
	}
	release := ""
	if hist, _, _ := unstructured.NestedSlice(hr.Object, "status", "history"); len(hist) > 0 {
		if m, ok := hist[0].(map[string]any); ok {
			release, _ = m["name"].(string)
		}
	}
	if release == "" {
		return nil
	}
	var secrets corev1.SecretList
	if err := c.List(ctx, &secrets, client.InNamespace(storageNS),
		client.MatchingLabels{"owner": "helm", "name": release, "status": "deployed"}); err != nil {
		return fmt.Errorf("list Helm storage of HelmRelease %s/%s: %w", hr.GetNamespace(), hr.GetName(), err)
	}
	if len(secrets.Items) == 0 {
		return nil
	}
	manifest, err := helmManifest(secrets.Items[len(secrets.Items)-1].Data["release"])
	if err != nil {
		return fmt.Errorf("read Helm release %s/%s: %w", storageNS, release, err)
	}
	targetNS, _, _ := unstructured.NestedString(hr.Object, "spec", "targetNamespace")
	if targetNS == "" {
		targetNS = hr.GetNamespace()
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("decode Helm release %s/%s manifest: %w", storageNS, release, err)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		gvk := u.GroupVersionKind()
		ns := u.GetNamespace()
		if ns == "" {
			if mapping, err := c.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); err == nil && mapping.Scope.Name() == "namespace" {
				ns = targetNS
			}
		}
		node.Children = append(node.Children, &treeNode{Resource: objMeta{Namespace: ns, Name: u.GetName(),
			GroupKind: groupKind{Group: gvk.Group, Kind: gvk.Kind}}})
	}
	return nil
}

// helmManifest decodes a Helm storage Secret's release (base64 of gzipped JSON) to its manifest.
func helmManifest(data []byte) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return "", fmt.Errorf("decode base64: %w", err)
	}
	if len(raw) > 3 && bytes.Equal(raw[:3], []byte{0x1f, 0x8b, 0x08}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return "", fmt.Errorf("gunzip: %w", err)
		}
		defer func() { _ = zr.Close() }()
		if raw, err = io.ReadAll(io.LimitReader(zr, 64<<20)); err != nil {
			return "", fmt.Errorf("gunzip: %w", err)
		}
	}
	var rel struct {
		Manifest string `json:"manifest"`
	}
	if err := json.Unmarshal(raw, &rel); err != nil {
		return "", fmt.Errorf("decode release: %w", err)
	}
	return rel.Manifest, nil
}

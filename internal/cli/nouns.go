package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// verbKinds are the kinds a verb (reconcile, suspend, resume, delete, export) applies to.
type verbKinds struct {
	sources []*fluxKind
	images  []*fluxKind
	top     []*fluxKind
}

// singular returns the singular noun of a top-level kind and its aliases, as flux spells them
// after a verb (`reconcile kustomization`, alias ks).
func singular(k *fluxKind) (string, []string) {
	switch k {
	case ksKind:
		return "kustomization", []string{"ks", "kustomizations"}
	case hrKind:
		return "helmrelease", []string{"hr", "helmreleases"}
	case alertKind:
		return "alert", []string{"alerts"}
	case providerKind:
		return "alert-provider", []string{"alert-providers"}
	case receiverKind:
		return "receiver", []string{"receivers"}
	}
	return k.Use, k.Aliases
}

// addNouns attaches `source <x>`, `image <x>` and the top-level nouns to a verb command, each
// built by mk.
func addNouns(verb *cobra.Command, vk verbKinds, mk func(k *fluxKind) *cobra.Command) {
	if len(vk.sources) > 0 {
		src := &cobra.Command{Use: "source", Aliases: []string{"sources"}, Short: strings.ToUpper(verb.Name()[:1]) + verb.Name()[1:] + " sources"}
		for _, k := range vk.sources {
			src.AddCommand(mk(k))
		}
		verb.AddCommand(src)
	}
	if len(vk.images) > 0 {
		img := &cobra.Command{Use: "image", Aliases: []string{"images"}, Short: strings.ToUpper(verb.Name()[:1]) + verb.Name()[1:] + " image automation objects"}
		for _, k := range vk.images {
			img.AddCommand(mk(k))
		}
		verb.AddCommand(img)
	}
	for _, k := range vk.top {
		c := mk(k)
		c.Use, c.Aliases = strings.Replace(c.Use, k.Use, "", 1), nil
		use, aliases := singular(k)
		c.Use = use + c.Use
		c.Aliases = aliases
		verb.AddCommand(c)
	}
}

// lowerKind is the kind as flux names it in messages ("kustomization", "source git").
func lowerKind(k *fluxKind) string {
	switch k {
	case gitKind, ociKind, helmRepoKind, chartKind, bucketKind, externalKind:
		return "source " + k.Use
	case imageRepoKind, imagePolicyKind, imageUpdateKind:
		return "image " + k.Use
	}
	s, _ := singular(k)
	return s
}

// getObject reads one object of a kind, with a one-line error naming it.
func getObject(ctx context.Context, c client.Client, k *fluxKind, ns, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(k.GVK())
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, u); err != nil {
		return nil, fmt.Errorf("get %s %s/%s: %w", k.Kind, ns, name, err)
	}
	return u, nil
}

// mergePatch applies a JSON merge patch as the weir field manager.
func mergePatch(ctx context.Context, c client.Client, u *unstructured.Unstructured, patch []byte) error {
	if err := c.Patch(ctx, u, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("patch %s %s/%s: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return nil
}

func isSuspended(u *unstructured.Unstructured) bool {
	s, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend")
	return s
}

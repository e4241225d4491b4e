package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// getFlags are the flags of `get` and its sub-commands.
type getFlags struct {
	allNamespaces  bool
	noHeader       bool
	watch          bool
	statusSelector string
	labelSelector  string
	output         string
}

func newGetCommand(g *globals) *cobra.Command {
	f := &getFlags{}
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Get the resources and their status",
		Long:  "The get sub-commands print the statuses of Flux resources.",
	}
	pf := cmd.PersistentFlags()
	pf.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "list the requested object(s) across all namespaces")
	pf.BoolVar(&f.noHeader, "no-header", false, "skip the header when printing the results")
	pf.BoolVarP(&f.watch, "watch", "w", false, "after listing/getting the requested object, watch for changes")
	pf.StringVar(&f.statusSelector, "status-selector", "",
		"specify the status condition name and the desired state to filter the get result, e.g. ready=false")
	pf.StringVarP(&f.labelSelector, "label-selector", "l", "", "filter objects by label selector")
	pf.StringVarP(&f.output, "output", "o", "", "output format: table (default), json or yaml")

	sources := &cobra.Command{Use: "sources", Aliases: []string{"source"}, Short: "Get source statuses"}
	sources.AddCommand(getAllCommand(g, f, "Get all source statuses", sourceKinds))
	for _, k := range sourceKinds {
		sources.AddCommand(getKindCommand(g, f, k))
	}
	images := &cobra.Command{Use: "images", Aliases: []string{"image"}, Short: "Get image automation object status"}
	images.AddCommand(getAllCommand(g, f, "Get all image statuses", imageKinds))
	for _, k := range imageKinds {
		images.AddCommand(getKindCommand(g, f, k))
	}
	cmd.AddCommand(getAllCommand(g, f, "Get all resources and statuses", allKinds), sources, images)
	for _, k := range []*fluxKind{ksKind, hrKind, alertKind, providerKind, receiverKind} {
		cmd.AddCommand(getKindCommand(g, f, k))
	}
	return cmd
}

func getKindCommand(g *globals, f *getFlags, k *fluxKind) *cobra.Command {
	return &cobra.Command{
		Use:     k.Use + " [name]",
		Aliases: k.Aliases,
		Short:   fmt.Sprintf("Get %s statuses", k.Kind),
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			if f.watch {
				return watchKind(cmd.Context(), g, f, k, name)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			items, err := listKind(ctx, c, k, g.namespace, f.allNamespaces, name, f.labelSelector)
			if err != nil {
				return err
			}
			if f.output != "" {
				return printObjects(g.out, f.output, items, name != "")
			}
			if len(items) == 0 {
				where := fmt.Sprintf("%q", g.namespace)
				if f.allNamespaces {
					where = "any"
				}
				if name != "" {
					return fmt.Errorf("%s object '%s' not found in %s namespace", k.Kind, name, where)
				}
				fmt.Fprintf(g.errOut, "✗ no %s objects found in %s namespace\n", k.Kind, where)
				return nil
			}
			rows, err := tableRows(k, items, f, false)
			if err != nil {
				return err
			}
			return printTable(g.out, tableHeader(k, f), rows)
		},
	}
}

func getAllCommand(g *globals, f *getFlags, short string, kinds []*fluxKind) *cobra.Command {
	return &cobra.Command{
		Use:   "all",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.watch {
				return fmt.Errorf("expected a single resource type, but found all")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			var everything []*unstructured.Unstructured
			for _, k := range kinds {
				items, err := listKind(ctx, c, k, g.namespace, f.allNamespaces, "", f.labelSelector)
				if err != nil {
					if apimeta.IsNoMatchError(err) {
						continue
					}
					return err
				}
				if f.output != "" {
					everything = append(everything, items...)
					continue
				}
				rows, err := tableRows(k, items, f, true)
				if err != nil {
					return err
				}
				if len(rows) == 0 {
					continue
				}
				if err := printTable(g.out, tableHeader(k, f), rows); err != nil {
					return err
				}
				fmt.Fprintln(g.out)
			}
			if f.output != "" {
				return printObjects(g.out, f.output, everything, false)
			}
			return nil
		},
	}
}

func tableHeader(k *fluxKind, f *getFlags) []string {
	if f.noHeader {
		return nil
	}
	h := append([]string{"Name"}, k.Headers...)
	if f.allNamespaces {
		h = append([]string{"Namespace"}, h...)
	}
	return h
}

// parseStatusSelector splits "type=status".
func parseStatusSelector(sel string) (string, string, error) {
	if sel == "" {
		return "", "", nil
	}
	typ, status, ok := strings.Cut(sel, "=")
	if !ok {
		return "", "", fmt.Errorf("expected status selector in type=status format, but found: %s", sel)
	}
	return typ, status, nil
}

func tableRows(k *fluxKind, items []*unstructured.Unstructured, f *getFlags, withKind bool) ([][]string, error) {
	typ, status, err := parseStatusSelector(f.statusSelector)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	for _, u := range items {
		if typ != "" {
			if k.NoStatus {
				continue
			}
			s, _, _, ok := condition(u, typ)
			if !ok || !strings.EqualFold(s, status) {
				continue
			}
		}
		name := u.GetName()
		if withKind {
			name = strings.ToLower(k.Kind) + "/" + name
		}
		row := []string{name}
		if f.allNamespaces {
			row = append([]string{u.GetNamespace()}, row...)
		}
		rows = append(rows, append(row, k.Row(u)...))
	}
	return rows, nil
}

// listKind lists a kind in a namespace (or all), keeping only the named object when name is set
// and the objects matching the label selector when one is given.
func listKind(ctx context.Context, c client.Client, k *fluxKind, ns string, all bool, name, labelSelector string) ([]*unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(k.GV.WithKind(k.Kind + "List"))
	opts, err := listOptions(ns, all, labelSelector)
	if err != nil {
		return nil, err
	}
	if err := c.List(ctx, list, opts...); err != nil {
		return nil, fmt.Errorf("list %s: %w", k.Kind, err)
	}
	var out []*unstructured.Unstructured
	for i := range list.Items {
		if name != "" && list.Items[i].GetName() != name {
			continue
		}
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// watchKind prints the table once and a row for every change until the timeout.
func watchKind(ctx context.Context, g *globals, f *getFlags, k *fluxKind, name string) error {
	cfg, err := g.restConfig()
	if err != nil {
		return err
	}
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		return fmt.Errorf("create kubernetes client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(k.GV.WithKind(k.Kind + "List"))
	opts, err := listOptions(g.namespace, f.allNamespaces, f.labelSelector)
	if err != nil {
		return err
	}
	w, err := c.Watch(ctx, list, opts...)
	if err != nil {
		return fmt.Errorf("watch %s: %w", k.Kind, err)
	}
	defer w.Stop()
	header := tableHeader(k, f)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if ev.Type == watch.Error || ev.Type == watch.Bookmark {
				continue
			}
			u, isU := ev.Object.(*unstructured.Unstructured)
			if !isU || (name != "" && u.GetName() != name) {
				continue
			}
			rows, err := tableRows(k, []*unstructured.Unstructured{u}, f, false)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				continue
			}
			if err := printTable(g.out, header, rows); err != nil {
				return err
			}
			header = nil
		}
	}
}

// listOptions are the options of a list or watch: the namespace unless all, and the label
// selector when one is given.
func listOptions(ns string, all bool, labelSelector string) ([]client.ListOption, error) {
	var opts []client.ListOption
	if !all {
		opts = append(opts, client.InNamespace(ns))
	}
	if labelSelector != "" {
		sel, err := labels.Parse(labelSelector)
		if err != nil {
			return nil, fmt.Errorf("unable to parse label selector: %w", err)
		}
		opts = append(opts, client.MatchingLabelsSelector{Selector: sel})
	}
	return opts, nil
}

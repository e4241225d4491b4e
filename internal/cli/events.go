package cli

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func newEventsCommand(g *globals) *cobra.Command {
	var forObj string
	var types []string
	var all, watchFlag bool
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Display Kubernetes events for Flux resources",
		Example: `  # Events of the Flux objects in the flux-system namespace
  weir events

  # Events of one Kustomization and of its source
  weir events --for Kustomization/apps

  # Events of every Kustomization in the default namespace
  weir events --for Kustomization -n default

  # Warning events only
  weir events --types warning`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
			defer cancel()
			byObject, err := eventFilter(ctx, c, forObj, g.namespace)
			if err != nil {
				return err
			}
			for _, t := range types {
				if !strings.EqualFold(t, corev1.EventTypeNormal) && !strings.EqualFold(t, corev1.EventTypeWarning) {
					return fmt.Errorf("type '%s' not supported. Supported types are Normal, Warning", t)
				}
			}
			match := func(e *corev1.Event) bool {
				if len(types) > 0 && !slices.ContainsFunc(types, func(t string) bool { return strings.EqualFold(t, e.Type) }) {
					return false
				}
				return byObject(e)
			}
			if watchFlag {
				return watchEvents(ctx, g, match, all)
			}
			var list corev1.EventList
			var opts []client.ListOption
			if !all {
				opts = append(opts, client.InNamespace(g.namespace))
			}
			if err := c.List(ctx, &list, opts...); err != nil {
				return fmt.Errorf("list events: %w", err)
			}
			var events []corev1.Event
			for _, e := range list.Items {
				if match(&e) {
					events = append(events, e)
				}
			}
			if len(events) == 0 {
				if all {
					fmt.Fprintln(g.errOut, "✗ No events found.")
				} else {
					fmt.Fprintf(g.errOut, "✗ No events found in %s namespace.\n", g.namespace)
				}
				return nil
			}
			sort.SliceStable(events, func(i, j int) bool { return eventTime(&events[i]).Before(eventTime(&events[j])) })
			rows := make([][]string, 0, len(events))
			for i := range events {
				rows = append(rows, eventRow(&events[i], all))
			}
			return printTable(g.out, eventHeader(all), rows)
		},
	}
	cmd.Flags().StringVar(&forObj, "for", "", "get the events for a particular object (Kind/name) or kind (Kind)")
	cmd.Flags().StringSliceVar(&types, "types", nil, "filter events for certain types (valid types are: Normal, Warning)")
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "display events from Flux resources across all namespaces")
	cmd.Flags().BoolVarP(&watchFlag, "watch", "w", false, "indicate if the events should be streamed")
	return cmd
}

func eventHeader(all bool) []string {
	h := []string{"Last seen", "Type", "Reason", "Object", "Message"}
	if all {
		h = append([]string{"Namespace"}, h...)
	}
	return h
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func eventRow(e *corev1.Event, all bool) []string {
	age := "<unknown>"
	if t := eventTime(e); !t.IsZero() {
		age = duration.HumanDuration(time.Since(t))
	}
	row := []string{age, e.Type, e.Reason, e.InvolvedObject.Kind + "/" + e.InvolvedObject.Name,
		strings.TrimSpace(e.Message)}
	if all {
		row = append([]string{e.Namespace}, row...)
	}
	return row
}

// eventFilter returns a predicate selecting events of Flux objects, or with --for of that
// object and of the source it refers to.
func eventFilter(ctx context.Context, c client.Client, forObj, ns string) (func(*corev1.Event) bool, error) {
	if forObj == "" {
		return func(e *corev1.Event) bool {
			_, ok := kindByName(e.InvolvedObject.Kind)
			return ok && strings.Contains(e.InvolvedObject.APIVersion, "fluxcd.io")
		}, nil
	}
	kind, name, _ := strings.Cut(forObj, "/")
	if kind == "" {
		return nil, fmt.Errorf("--for selector must be of format <kind>[/<name>]")
	}
	if name == "" {
		// Every object of the kind, as flux's --for Kind.
		k, ok := kindByName(kind)
		if !ok {
			return nil, fmt.Errorf("'%s' is not a recognized Flux kind", kind)
		}
		return func(e *corev1.Event) bool { return e.InvolvedObject.Kind == k.Kind }, nil
	}
	type key struct{ kind, ns, name string }
	want := map[key]bool{}
	if k, ok := kindByName(kind); ok {
		kind = k.Kind
		if obj, err := getObject(ctx, c, k, ns, name); err == nil {
			for _, path := range [][]string{{"spec", "sourceRef"}, {"spec", "chartRef"}, {"spec", "chart", "spec", "sourceRef"}} {
				if ref, ok, _ := unstructured.NestedStringMap(obj.Object, path...); ok && ref["name"] != "" {
					rns := ref["namespace"]
					if rns == "" {
						rns = ns
					}
					want[key{strings.ToLower(ref["kind"]), rns, ref["name"]}] = true
				}
			}
		}
	}
	want[key{strings.ToLower(kind), ns, name}] = true
	return func(e *corev1.Event) bool {
		return want[key{strings.ToLower(e.InvolvedObject.Kind), e.InvolvedObject.Namespace, e.InvolvedObject.Name}]
	}, nil
}

func watchEvents(ctx context.Context, g *globals, match func(*corev1.Event) bool, all bool) error {
	cfg, err := g.restConfig()
	if err != nil {
		return err
	}
	c, err := client.NewWithWatch(cfg, client.Options{})
	if err != nil {
		return fmt.Errorf("create kubernetes client: %w", err)
	}
	var opts []client.ListOption
	if !all {
		opts = append(opts, client.InNamespace(g.namespace))
	}
	w, err := c.Watch(ctx, &corev1.EventList{}, opts...)
	if err != nil {
		return fmt.Errorf("watch events: %w", err)
	}
	defer w.Stop()
	header := eventHeader(all)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			e, isEvent := ev.Object.(*corev1.Event)
			if !isEvent || !match(e) {
				continue
			}
			if err := printTable(g.out, header, [][]string{eventRow(e, all)}); err != nil {
				return err
			}
			header = nil
		}
	}
}

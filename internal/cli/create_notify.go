package cli

import (
	"fmt"
	"strings"

	notificationv1 "github.com/fluxcd/notification-controller/api/v1"
	notificationv1beta3 "github.com/fluxcd/notification-controller/api/v1beta3"
	"github.com/fluxcd/pkg/apis/meta"
	"github.com/spf13/cobra"
)

// objectRef parses "<kind>/<name>[.<namespace>]" into a notification object reference.
func objectRef(s string) (notificationv1.CrossNamespaceObjectReference, error) {
	kind, rest, ok := strings.Cut(s, "/")
	if !ok || kind == "" || rest == "" {
		return notificationv1.CrossNamespaceObjectReference{}, fmt.Errorf("invalid reference '%s', must be in format <kind>/<name>", s)
	}
	ref := notificationv1.CrossNamespaceObjectReference{Kind: kind, Name: rest}
	if i := strings.LastIndex(rest, "."); i > 0 {
		ref.Name, ref.Namespace = rest[:i], rest[i+1:]
	}
	return ref, nil
}

func createAlertProviderCommand(g *globals, f *createFlags) *cobra.Command {
	var typ, channel, username, address, secret string
	cmd := &cobra.Command{
		Use:   "alert-provider [name]",
		Short: "Create or update a Provider resource",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ == "" {
				return fmt.Errorf("provider type is required")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			p := &notificationv1beta3.Provider{ObjectMeta: om, Spec: notificationv1beta3.ProviderSpec{
				Type: typ, Channel: channel, Username: username, Address: address, SecretRef: secretRef(secret),
			}}
			return emit(cmd, g, f, p, providerKind.GVK(), "Provider", providerKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "type of provider")
	fl.StringVar(&channel, "channel", "", "channel to send messages to in the case of a chat provider")
	fl.StringVar(&username, "username", "", "bot username used by the provider")
	fl.StringVar(&address, "address", "", "path to either the git repository, chat provider or webhook")
	fl.StringVar(&secret, "secret-ref", "", "name of secret containing authentication token")
	return cmd
}

func createAlertCommand(g *globals, f *createFlags) *cobra.Command {
	var provider, severity string
	var sources []string
	cmd := &cobra.Command{
		Use:   "alert [name]",
		Short: "Create or update an Alert resource",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if provider == "" {
				return fmt.Errorf("provider ref is required")
			}
			if len(sources) == 0 {
				return fmt.Errorf("at least one event source is required")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			a := &notificationv1beta3.Alert{ObjectMeta: om, Spec: notificationv1beta3.AlertSpec{
				ProviderRef: meta.LocalObjectReference{Name: provider}, EventSeverity: severity,
			}}
			for _, s := range sources {
				ref, err := objectRef(s)
				if err != nil {
					return err
				}
				a.Spec.EventSources = append(a.Spec.EventSources, ref)
			}
			return emit(cmd, g, f, a, alertKind.GVK(), "Alert", alertKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&provider, "provider-ref", "", "reference to provider")
	fl.StringVar(&severity, "event-severity", "", "severity of events to send alerts for")
	fl.StringSliceVar(&sources, "event-source", nil, "sources that should generate alerts (<kind>/<name>)")
	return cmd
}

func createReceiverCommand(g *globals, f *createFlags) *cobra.Command {
	var typ, secret string
	var resources, events []string
	cmd := &cobra.Command{
		Use:   "receiver [name]",
		Short: "Create or update a Receiver resource",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ == "" {
				return fmt.Errorf("receiver type is required")
			}
			if secret == "" {
				return fmt.Errorf("secret ref is required")
			}
			if len(resources) == 0 {
				return fmt.Errorf("at least one resource is required")
			}
			om, err := f.objectMeta(g, args[0])
			if err != nil {
				return err
			}
			r := &notificationv1.Receiver{ObjectMeta: om, Spec: notificationv1.ReceiverSpec{
				Type: typ, Events: events, SecretRef: secretRef(secret),
			}}
			for _, s := range resources {
				ref, err := objectRef(s)
				if err != nil {
					return err
				}
				r.Spec.Resources = append(r.Spec.Resources, notificationv1.ReceiverResource{CrossNamespaceObjectReference: ref})
			}
			return emit(cmd, g, f, r, receiverKind.GVK(), "Receiver", receiverKind)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&typ, "type", "", "type of receiver (github, gitlab, generic, …)")
	fl.StringVar(&secret, "secret-ref", "", "name of secret containing the receiver token")
	fl.StringSliceVar(&events, "event", nil, "event to react to")
	fl.StringSliceVar(&resources, "resource", nil, "resources to reconcile on a webhook call (<kind>/<name>)")
	return cmd
}

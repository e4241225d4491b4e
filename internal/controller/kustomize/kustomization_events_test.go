package kustomize_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// TestEventsReachNotificationController checks that the events of a GitRepository storing an
// artifact and of a Kustomization applying it are posted, in Flux's event JSON with Flux's
// metadata keys, to the notification-controller named by --events-addr (a real HTTP server
// standing in for Flux's), as Flux's own controllers post them.
func TestEventsReachNotificationController(t *testing.T) {
	ns := env.Namespace(t)
	root := gitserver.NewRoot(t)
	rev := root.NewRepo("repo").Commit("main", "one", map[string]string{"app/cm.yaml": configMapYAML(ns, "app", "1")})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	if err := env.Client.Create(t.Context(), gitRepository(ns, "repo", srv.RepoURL("repo"))); err != nil {
		t.Fatal(err)
	}
	ks := kustomization(ns, "app", "./app")
	if err := env.Client.Create(t.Context(), ks); err != nil {
		t.Fatal(err)
	}
	waitKustomization(t, client.ObjectKeyFromObject(ks), metav1.ConditionTrue, time.Minute, nil)
	revision := "main@sha1:" + rev
	testenv.Eventually(t, 30*time.Second, func() error {
		var source, applied bool
		for _, e := range notificationController.received(ns, "repo") {
			if e.InvolvedObject.Kind == "GitRepository" && e.InvolvedObject.APIVersion == "source.toolkit.fluxcd.io/v1" &&
				e.ReportingController == "source-controller" && e.Reason == "NewArtifact" && e.Severity == "info" &&
				e.Metadata["source.toolkit.fluxcd.io/revision"] == revision {
				source = true
			}
		}
		for _, e := range notificationController.received(ns, "app") {
			if e.InvolvedObject.Kind == "Kustomization" && e.InvolvedObject.APIVersion == "kustomize.toolkit.fluxcd.io/v1" &&
				e.ReportingController == "kustomize-controller" && e.Reason == "ReconciliationSucceeded" && e.Severity == "info" &&
				e.Metadata["kustomize.toolkit.fluxcd.io/revision"] == revision &&
				e.Metadata["kustomize.toolkit.fluxcd.io/commit_status"] == "update" {
				applied = true
			}
		}
		changes := false
		for _, e := range notificationController.received(ns, "app") {
			if e.Reason == "Progressing" && strings.Contains(e.Message, "ConfigMap/"+ns+"/app created") &&
				len(e.Metadata["kustomize.toolkit.fluxcd.io/token"]) == 64 {
				changes = true
			}
		}
		if !source || !applied || !changes {
			return fmt.Errorf("events received: source %v %+v, kustomization applied %v, changes with a token %v: %+v", source,
				notificationController.received(ns, "repo"), applied, changes, notificationController.received(ns, "app"))
		}
		return nil
	})
	// The Kubernetes Events carry the same metadata as annotations, as Flux's do.
	testenv.Eventually(t, 30*time.Second, func() error {
		var events corev1.EventList
		if err := env.Client.List(t.Context(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "app" && e.Reason == "ReconciliationSucceeded" &&
				e.Annotations["kustomize.toolkit.fluxcd.io/revision"] == revision && e.Source.Component == "kustomize-controller" {
				return nil
			}
		}
		return fmt.Errorf("no ReconciliationSucceeded Event of app annotated with the revision among %d events", len(events.Items))
	})
}

//go:build faults

package faults_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/apply"
	"github.com/weirgitops/weir/internal/compat"
	"github.com/weirgitops/weir/internal/testenv"
)

// The oracles and helpers of the outage and crash cases: what must hold once a fault is gone.

// storage is the controller's --storage-path.
func (w *world) storage() string { return filepath.Join(w.base, "storage") }

// crash runs the controller with the fault point armed ("<point>[@N]") and waits, up to
// timeout, until it killed itself there. It returns the dead process.
func (w *world) crash(point string, timeout time.Duration, extra ...string) *process {
	w.t.Helper()
	p := w.start(extra, "WEIR_FAULTPOINT="+point)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.dumpGoroutines(w.t)
		w.t.Fatalf("the controller did not reach the fault point %s within %s", point, timeout)
	}
	name, _, _ := strings.Cut(point, "@")
	if !strings.Contains(p.log.String(), "faultpoint "+name+": killing the process") {
		w.t.Fatalf("the controller ended, but not at the fault point %s:\n%s", point, tail(p.log.String(), 3000))
	}
	w.assertNoCanaryIn("controller log", p.log.String())
	return p
}

// tail is the end of a log, for a failure message.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// managedConfigMaps are the names of the ConfigMaps of the case's namespace that carry k's
// owner labels.
func (w *world) managedConfigMaps(k *kustomizev1.Kustomization) []string {
	w.t.Helper()
	var list corev1.ConfigMapList
	if err := env.Client.List(w.t.Context(), &list, client.InNamespace(w.ns),
		client.MatchingLabels{compat.KustomizeNameLabel: k.Name, compat.KustomizeNamespaceLabel: k.Namespace}); err != nil {
		w.t.Fatal(err)
	}
	var names []string
	for _, cm := range list.Items {
		if cm.DeletionTimestamp == nil {
			names = append(names, cm.Name)
		}
	}
	slices.Sort(names)
	return names
}

// waitApplied waits until k is Ready at revision and its inventory is exactly the ConfigMaps
// want, every one of them in the cluster with k's labels and no other ConfigMap carrying them:
// nothing missing from the inventory, no orphan, no duplicate.
func (w *world) waitApplied(k *kustomizev1.Kustomization, revision string, timeout time.Duration, want ...string) {
	w.t.Helper()
	slices.Sort(want)
	testenv.Eventually(w.t, timeout, func() error {
		c, err := condition(k, "Ready")
		if err != nil {
			return err
		}
		if c == nil || c.Status != "True" {
			return fmt.Errorf("%s not Ready: %+v", k.Name, c)
		}
		if !strings.HasSuffix(k.Status.LastAppliedRevision, revision) {
			return fmt.Errorf("%s applied %s, want %s", k.Name, k.Status.LastAppliedRevision, revision)
		}
		var inv []string
		if k.Status.Inventory != nil {
			for _, e := range k.Status.Inventory.Entries {
				id, err := apply.ParseID(e.ID)
				if err != nil {
					return err
				}
				if id.Kind != "ConfigMap" || id.Namespace != w.ns {
					return fmt.Errorf("unexpected inventory entry %s", e.ID)
				}
				inv = append(inv, id.Name)
			}
		}
		slices.Sort(inv)
		if dup := slices.Compact(slices.Clone(inv)); len(dup) != len(inv) {
			return fmt.Errorf("duplicate inventory entries: %v", inv)
		}
		if !slices.Equal(inv, want) {
			return fmt.Errorf("inventory %v, want %v", inv, want)
		}
		if got := w.managedConfigMaps(k); !slices.Equal(got, want) {
			return fmt.Errorf("ConfigMaps labelled for %s: %v, want %v (orphans or missing objects)", k.Name, got, want)
		}
		return nil
	})
}

// assertStoreConsistent is the artifact oracle: no temporary file is left in the store, and
// every source's status.artifact names a file whose digest and size are what it says.
func (w *world) assertStoreConsistent() {
	w.t.Helper()
	_ = filepath.WalkDir(w.storage(), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			w.t.Errorf("walk the store: %v", err)
			return nil
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".") {
			w.t.Errorf("temporary file left in the store: %s", p)
		}
		return nil
	})
	var repos sourcev1.GitRepositoryList
	if err := env.Client.List(w.t.Context(), &repos, client.InNamespace(w.ns)); err != nil {
		w.t.Fatal(err)
	}
	for _, r := range repos.Items {
		a := r.Status.Artifact
		if a == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(w.storage(), filepath.FromSlash(a.Path)))
		if err != nil {
			w.t.Errorf("GitRepository %s: artifact %s: %v", r.Name, a.Path, err)
			continue
		}
		sum := sha256.Sum256(b)
		if got := "sha256:" + hex.EncodeToString(sum[:]); got != a.Digest || (a.Size != nil && *a.Size != int64(len(b))) {
			w.t.Errorf("GitRepository %s: artifact %s has digest %s and %d bytes, status says %s and %v", r.Name, a.Path, got, len(b), a.Digest, a.Size)
		}
	}
}

// configMaps is a directory of a repository holding one ConfigMap per name, all with value.
func configMaps(dir, value string, names ...string) map[string]string {
	files := map[string]string{}
	var res []string
	for _, n := range names {
		files[dir+"/"+n+".yaml"] = configMap(n, value)
		res = append(res, n+".yaml")
	}
	files[dir+"/kustomization.yaml"] = kustomizationFile("resources: [" + strings.Join(res, ", ") + "]\n")
	return files
}

//go:build faults

package faults_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/testenv/gitserver"
)

// configMap is a manifest of a ConfigMap named name with one value.
func configMap(name, value string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  value: %q\n", name, value)
}

// hostileCase is one directory of the hostile repository: good at the first commit, turned
// hostile by the second.
type hostileCase struct {
	name string
	// files of the hostile commit, relative to the case's directory.
	files func(w *world) map[string]string
	// names are fragments the Ready message must hold: the offending path or the limit.
	names []string
}

// climb is a relative path from anywhere in the file system to p: more `../` than any
// directory is deep, then p.
func climb(p string) string { return strings.Repeat("../", 40) + strings.TrimPrefix(p, "/") }

func kustomizationFile(body string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + body
}

var hostileRepositoryCases = []hostileCase{
	{name: "absolute-symlink", names: []string{"leak.yaml"}, files: func(w *world) map[string]string {
		return map[string]string{"leak.yaml": gitserver.Symlink(w.Canary()), "kustomization.yaml": kustomizationFile("resources: [cm.yaml, leak.yaml]\n")}
	}},
	{name: "relative-symlink", names: []string{"leak.yaml"}, files: func(w *world) map[string]string {
		return map[string]string{"leak.yaml": gitserver.Symlink(climb(w.Canary())), "kustomization.yaml": kustomizationFile("resources: [cm.yaml, leak.yaml]\n")}
	}},
	{name: "symlinked-directory", names: []string{"outside/canary.txt"}, files: func(w *world) map[string]string {
		return map[string]string{"outside": gitserver.Symlink(w.base), "kustomization.yaml": kustomizationFile(
			"resources: [cm.yaml]\nconfigMapGenerator:\n- name: leak\n  files: [outside/canary.txt]\n")}
	}},
	{name: "symlink-loop", names: []string{"loop-a"}, files: func(*world) map[string]string {
		return map[string]string{"loop-a": gitserver.Symlink("loop-b"), "loop-b": gitserver.Symlink("loop-a"),
			"kustomization.yaml": kustomizationFile("resources: [cm.yaml, loop-a]\n")}
	}},
	{name: "dotdot-resource", names: []string{"canary.txt"}, files: func(w *world) map[string]string {
		return map[string]string{"kustomization.yaml": kustomizationFile(fmt.Sprintf("resources: [cm.yaml, %q]\n", climb(w.Canary())))}
	}},
	{name: "absolute-generator-file", names: []string{"canary.txt"}, files: func(w *world) map[string]string {
		return map[string]string{"kustomization.yaml": kustomizationFile(fmt.Sprintf(
			"resources: [cm.yaml]\nconfigMapGenerator:\n- name: leak\n  files: [%q]\n", w.Canary()))}
	}},
	{name: "dotdot-generator-env", names: []string{"canary.txt"}, files: func(w *world) map[string]string {
		return map[string]string{"kustomization.yaml": kustomizationFile(fmt.Sprintf(
			"resources: [cm.yaml]\nsecretGenerator:\n- name: leak\n  envs: [%q]\n", climb(w.Canary())))}
	}},
	{name: "alias-bomb", names: []string{"bomb.yaml"}, files: func(*world) map[string]string {
		var b strings.Builder
		b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
		prev := "a"
		for _, k := range strings.Split("bcdefghijk", "") {
			fmt.Fprintf(&b, "%s: &%s [%s]\n", k, k, strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ","))
			prev = k
		}
		return map[string]string{"bomb.yaml": b.String(), "kustomization.yaml": kustomizationFile("resources: [cm.yaml, bomb.yaml]\n")}
	}},
	{name: "deep-nesting", names: []string{"deep.yaml"}, files: func(*world) map[string]string {
		return map[string]string{"deep.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\nx: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
			"kustomization.yaml": kustomizationFile("resources: [cm.yaml, deep.yaml]\n")}
	}},
	{name: "huge-scalar", names: []string{"huge.yaml"}, files: func(*world) map[string]string {
		return map[string]string{"huge.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n  x: " + strings.Repeat("x", 40<<20) + "\n",
			"kustomization.yaml": kustomizationFile("resources: [cm.yaml, huge.yaml]\n")}
	}},
	{name: "many-documents", names: []string{"many.yaml"}, files: func(*world) map[string]string {
		var b strings.Builder
		for i := range 100_000 {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: many-%d\n", i)
		}
		return map[string]string{"many.yaml": b.String(), "kustomization.yaml": kustomizationFile("resources: [cm.yaml, many.yaml]\n")}
	}},
}

// TestHostileRepository turns a repository hostile, one directory per attack, under
// Kustomizations that applied its good revision: symlinks out of the artifact (absolute,
// relative, a symlinked directory, a loop), `../` and absolute paths in resources and
// generators, YAML alias bombs, deep nesting, a huge scalar and a hundred thousand documents.
// Oracles: every hostile Kustomization reports Ready=False, BuildFailed, naming the path or the
// file; its last good state stays applied; a sound Kustomization of the same repository goes
// on applying new revisions; the canary (a file next to the artifact store and a Secret in
// another namespace) appears nowhere; memory and goroutines stay bounded; once the repository
// is repaired every Kustomization recovers.
func TestHostileRepository(t *testing.T) {
	w := newWorld(t)
	good := map[string]string{"sound/kustomization.yaml": kustomizationFile("resources: [cm.yaml]\n"), "sound/cm.yaml": configMap("sound", "1")}
	for _, c := range hostileRepositoryCases {
		good[c.name+"/kustomization.yaml"] = kustomizationFile("resources: [cm.yaml]\n")
		good[c.name+"/cm.yaml"] = configMap(c.name, "good")
	}
	repo := w.repo("hostile", good)
	sound := w.kustomization("sound", "hostile", "./sound")
	ks := map[string]*kustomizev1.Kustomization{}
	for _, c := range hostileRepositoryCases {
		ks[c.name] = w.kustomization(c.name, "hostile", "./"+c.name)
	}
	notified := w.notifications()
	proc := w.start(nil)
	w.waitReady(sound, time.Minute)
	before := map[string]applied{}
	for name, k := range ks {
		w.waitReady(k, time.Minute)
		before[name] = w.lastGood(k)
	}
	baseRSS := proc.peakRSS(t)

	hostile := map[string]string{"sound/cm.yaml": configMap("sound", "2")}
	for _, c := range hostileRepositoryCases {
		for p, v := range c.files(w) {
			hostile[c.name+"/"+p] = v
		}
	}
	w.commit(repo, "hostile", hostile)
	w.waitConfigMapValue("sound", "2", 2*time.Minute)
	for _, c := range hostileRepositoryCases {
		msg := w.waitCondition(ks[c.name], meta.ReadyCondition, metav1.ConditionFalse, meta.BuildFailedReason, 2*time.Minute, c.names...)
		t.Logf("%s: %s", c.name, msg)
		w.assertKept(ks[c.name], before[c.name])
	}
	if rss := proc.peakRSS(t); rss > baseRSS+400<<20 {
		t.Errorf("peak RSS grew from %d MiB to %d MiB on hostile input", baseRSS>>20, rss>>20)
	}
	if g := proc.goroutines(t); g > 600 {
		t.Errorf("%d goroutines after the hostile revision", g)
	}
	w.assertTempClean(proc, 3)

	// Repaired: every Kustomization applies the new revision.
	repaired := map[string]string{}
	for _, c := range hostileRepositoryCases {
		for p := range c.files(w) {
			repaired[c.name+"/"+p] = gitserver.Deleted
		}
		repaired[c.name+"/kustomization.yaml"] = kustomizationFile("resources: [cm.yaml]\n")
		repaired[c.name+"/cm.yaml"] = configMap(c.name, "repaired")
	}
	w.commit(repo, "repaired", repaired)
	for _, c := range hostileRepositoryCases {
		w.waitConfigMapValue(c.name, "repaired", 2*time.Minute)
		w.waitReady(ks[c.name], time.Minute)
	}
	if len(notified()) == 0 {
		t.Error("no notification was sent: the notification oracle saw nothing")
	}
	w.assertNoCanary()
	if _, err := os.Stat(filepath.Join(w.base, "canary.txt")); err != nil {
		t.Errorf("the canary file is gone: %v", err)
	}
}

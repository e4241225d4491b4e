//go:build faults

package faults_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/weirgitops/weir/internal/faultpoint"
	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// TestCrashMidImageAutomationPush kills the controller after an ImageUpdateAutomation
// committed a new image tag in its clone and before it pushed.
// Oracles: nothing reached the Git server during the crash; after a restart the automation
// pushes exactly one commit that sets the new tag (none lost, none doubled), the file holds
// the new tag and every other byte, nothing of the dead process' clone is left in the
// temporary directory, and the canary leaks nowhere.
func TestCrashMidImageAutomationPush(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	reg := ociregistry.New(t, ociregistry.Options{})
	for _, tag := range []string{"1.0.0", "1.1.0"} {
		reg.PushFiles(t, "app", tag, map[string]string{"v": tag}, oci.Metadata{Source: "faults", Revision: tag})
	}
	image := reg.Host() + "/app"
	manifest := func(tag string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app # kept as it is\ndata:\n  image: %s:%s # {\"$imagepolicy\": \"%s:app\"}\n", image, tag, w.ns)
	}
	repo := w.repo("fleet", map[string]string{"deploy/app.yaml": manifest("1.0.0")})
	initial := repo.Rev("main")
	w.createYAML(
		fmt.Sprintf("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata: {name: app}\nspec: {image: %q, interval: 1h, insecure: true}", image),
		"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: app}\nspec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '1.x'}}}",
		`apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: fleet}
spec:
  interval: 1h
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    commit: {author: {name: weir bot, email: bot@weir.invalid}, messageTemplate: 'chore: images'}
    push: {branch: main}
  update: {path: ./deploy, strategy: Setters}`,
	)
	w.crash(faultpoint.ImageAutomationPushing, 2*time.Minute)
	if got := repo.Rev("main"); got != initial {
		t.Fatalf("main moved to %s during the crash, before the push", got)
	}

	p := w.start(nil)
	testenv.Eventually(t, 2*time.Minute, func() error {
		if repo.Rev("main") == initial {
			return fmt.Errorf("the automation has not pushed yet")
		}
		return nil
	})
	// Give a second run the chance to push a duplicate: ask the automation to run again.
	env.RequestReconcile(t, object("image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation", w.ns, "fleet"))
	w.waitCondition(object("image.toolkit.fluxcd.io/v1", "ImageUpdateAutomation", w.ns, "fleet"), "Ready", "True", "", time.Minute)
	log := strings.Split(repo.Git("log", "--format=%s", "main"), "\n")
	if len(log) != 2 || log[0] != "chore: images" {
		t.Errorf("main's history %q, want the initial commit and one automation commit", log)
	}
	if got, want := repo.Git("show", "main:deploy/app.yaml")+"\n", manifest("1.1.0"); got != want {
		t.Errorf("deploy/app.yaml after the restart:\n%s\nwant:\n%s", got, want)
	}
	// The push asked the GitRepository to fetch; once it has, no clone is in flight.
	head := repo.Rev("main")
	testenv.Eventually(t, time.Minute, func() error {
		src := &sourcev1.GitRepository{}
		if err := env.Client.Get(t.Context(), client.ObjectKey{Namespace: w.ns, Name: "fleet"}, src); err != nil {
			return err
		}
		if src.Status.Artifact == nil || !strings.HasSuffix(src.Status.Artifact.Revision, head) {
			return fmt.Errorf("the GitRepository has not fetched the automation's commit")
		}
		return nil
	})
	w.assertTempClean(p, 3)
	w.assertNoCanary()
}

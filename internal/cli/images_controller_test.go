package cli_test

import (
	"strings"
	"testing"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/gitserver"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// TestImageCommandsWithController runs the image commands against the real controllers:
// create waits for the scan, the selection and the first automation run; reconcile sees a new
// tag and the automation's push; suspend, resume, get and export work on the three kinds.
func TestImageCommandsWithController(t *testing.T) {
	ns := env.Namespace(t)
	reg := ociregistry.New(t, ociregistry.Options{})
	for _, tag := range []string{"1.0.0", "1.1.0"} {
		reg.PushFiles(t, "app", tag, map[string]string{"tag": tag}, oci.Metadata{})
	}
	image := reg.Host() + "/app"
	root := gitserver.NewRoot(t)
	repo := root.NewRepo("fleet")
	repo.Commit("main", "init", map[string]string{"deploy/app.yaml": "image: " + image + ":1.0.0 # {\"$imagepolicy\": \"" + ns + ":app\"}\n"})
	srv := root.ServeHTTP(gitserver.HTTPOptions{})
	startController(t)

	run := func(want string, args ...string) string {
		t.Helper()
		out, errOut, code := weir(t, nil, append(args, "-n", ns, "--timeout", "2m")...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("weir %v: exit %d, want %q in\n%s%s", args, code, want, out, errOut)
		}
		return out
	}
	run("✔ scan fetched 2 tags", "create", "image", "repository", "app", "--image", image, "--interval", "1h")
	// go-containerregistry speaks plain HTTP to a loopback registry without spec.insecure.
	out, errOut, code := weir(t, nil, "create", "image", "repository", "app", "--image", image, "--interval", "1h", "-n", ns, "--export")
	if code != 0 || !strings.Contains(out, "kind: ImageRepository") {
		t.Fatalf("create --export: exit %d\n%s%s", code, out, errOut)
	}
	run("✔ selected ref "+image+":1.1.0", "create", "image", "policy", "app", "--image-ref", "app", "--select-semver", "1.x")
	run("✔ fetched revision", "create", "source", "git", "fleet", "--url", srv.RepoURL("fleet"), "--branch", "main", "--interval", "1h")
	run("✔ last push commit", "create", "image", "update", "fleet", "--git-repo-ref", "fleet", "--checkout-branch", "main",
		"--author-name", "weir", "--author-email", "weir@example.com", "--interval", "1h")
	if got := repo.Git("show", "main:deploy/app.yaml"); !strings.Contains(got, image+":1.1.0 #") {
		t.Errorf("the automation did not push 1.1.0:\n%s", got)
	}

	reg.PushFiles(t, "app", "1.2.0", map[string]string{"tag": "1.2.0"}, oci.Metadata{})
	run("✔ scan fetched 3 tags", "reconcile", "image", "repository", "app")
	run("✔ selected ref "+image+":1.2.0", "reconcile", "image", "policy", "app")
	run("✔ last push commit", "reconcile", "image", "update", "fleet")

	out = run("app", "get", "images", "all")
	for _, want := range []string{"imagerepository/app", "imagepolicy/app", image + ":1.2.0", "imageupdateautomation/fleet"} {
		if !strings.Contains(out, want) {
			t.Errorf("get images all lacks %q:\n%s", want, out)
		}
	}
	run("✔ image repository suspended", "suspend", "image", "repository", "app")
	run("✔ scan fetched 3 tags", "resume", "image", "repository", "app")
	out = run("kind: ImagePolicy", "export", "image", "policy", "app")
	if strings.Contains(out, "status:") {
		t.Errorf("export carries the status:\n%s", out)
	}
}

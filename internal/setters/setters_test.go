package setters

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var images = map[string]Image{
	"apps:app":  {Name: "ghcr.io/org/app", Tag: "1.2.0", Digest: "sha256:abc"},
	"apps:side": {Name: "ghcr.io/org/side", Tag: "2.0"},
}

func TestUpdateFile(t *testing.T) {
	cases := map[string]struct {
		in, want string
		changes  int
		problems int
		err      bool
	}{
		"full ref in a Deployment, comments and layout kept": {
			in: `# top comment
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: apps}
spec:
  template:
    spec:
      containers:
        - name: app   # the app
          image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "apps:app"}
          args: ["--x",   "y"]
`,
			want: `# top comment
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: apps}
spec:
  template:
    spec:
      containers:
        - name: app   # the app
          image: ghcr.io/org/app:1.2.0@sha256:abc # {"$imagepolicy": "apps:app"}
          args: ["--x",   "y"]
`, changes: 1},
		"tag, name and digest suffixes, quoted styles kept": {
			in: `images:
  - name: app
    newName: 'ghcr.io/old/app' # {"$imagepolicy": "apps:app:name"}
    newTag: "1.0.0" # {"$imagepolicy": "apps:app:tag"}
    digest: sha256:old # {"$imagepolicy": "apps:app:digest"}
`,
			want: `images:
  - name: app
    newName: 'ghcr.io/org/app' # {"$imagepolicy": "apps:app:name"}
    newTag: "1.2.0" # {"$imagepolicy": "apps:app:tag"}
    digest: sha256:abc # {"$imagepolicy": "apps:app:digest"}
`, changes: 3},
		"plain tag that would read as a number is quoted": {
			in:      "tag: 1.0 # {\"$imagepolicy\": \"apps:side:tag\"}\n",
			want:    "tag: \"2.0\" # {\"$imagepolicy\": \"apps:side:tag\"}\n",
			changes: 1,
		},
		"sequence item and second document": {
			in:      "a: 1\n---\nlist:\n  - ghcr.io/org/side:1.0 # {\"$imagepolicy\": \"apps:side\"}\n",
			want:    "a: 1\n---\nlist:\n  - ghcr.io/org/side:2.0 # {\"$imagepolicy\": \"apps:side\"}\n",
			changes: 1,
		},
		"unknown policy is a problem, the rest applies": {
			in:       "a: x:1 # {\"$imagepolicy\": \"apps:gone\"}\nb: ghcr.io/org/side:1 # {\"$imagepolicy\": \"apps:side\"}\n",
			want:     "a: x:1 # {\"$imagepolicy\": \"apps:gone\"}\nb: ghcr.io/org/side:2.0 # {\"$imagepolicy\": \"apps:side\"}\n",
			changes:  1,
			problems: 1,
		},
		"digest without reflection is a problem": {
			in:       "d: x # {\"$imagepolicy\": \"apps:side:digest\"}\n",
			want:     "d: x # {\"$imagepolicy\": \"apps:side:digest\"}\n",
			problems: 1,
		},
		"bad suffix": {
			in:       "d: x # {\"$imagepolicy\": \"apps:side:size\"}\n",
			want:     "d: x # {\"$imagepolicy\": \"apps:side:size\"}\n",
			problems: 1,
		},
		"up to date": {
			in:   "t: \"2.0\" # {\"$imagepolicy\": \"apps:side:tag\"}\n",
			want: "t: \"2.0\" # {\"$imagepolicy\": \"apps:side:tag\"}\n",
		},
		"not YAML": {
			in:  "a: [1, 2\nb: x # {\"$imagepolicy\": \"apps:side\"}\n",
			err: true,
		},
		"no marker is not parsed": {
			in:   "a: [1, 2\n",
			want: "a: [1, 2\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, changes, problems, err := UpdateFile([]byte(tc.in), images)
			if tc.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, tc.want)
			}
			n := 0
			for _, cs := range changes {
				n += len(cs)
			}
			if n != tc.changes || len(problems) != tc.problems {
				t.Errorf("changes %d problems %v, want %d and %d", n, problems, tc.changes, tc.problems)
			}
		})
	}
}

func TestUpdateDir(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("apps/deploy.yaml", "kind: Deployment\nmetadata: {name: app}\nimage: ghcr.io/org/app:1 # {\"$imagepolicy\": \"apps:app:tag\"}\n")
	write("apps/broken.yml", "a: [ # {\"$imagepolicy\": \"apps:app\"}\n")
	write("apps/readme.md", "image: x # {\"$imagepolicy\": \"apps:app\"}\n")
	write("other/x.yaml", "image: ghcr.io/org/app:1 # {\"$imagepolicy\": \"apps:app:tag\"}\n")
	res, problems, err := UpdateDir(root, "apps", images)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.FileChanges) != 1 || len(res.Changes()) != 1 || res.Changes()[0].NewValue != "1.2.0" {
		t.Errorf("result %+v", res)
	}
	if objs := res.Objects(); len(objs[Object{Kind: "Deployment", Name: "app"}]) != 1 {
		t.Errorf("objects %+v", objs)
	}
	if len(problems) != 1 || problems[0].File != "apps/broken.yml" {
		t.Errorf("problems %v", problems)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "other/x.yaml")); string(data) != "image: ghcr.io/org/app:1 # {\"$imagepolicy\": \"apps:app:tag\"}\n" {
		t.Errorf("file outside the path changed: %s", data)
	}
	if _, _, err := UpdateDir(root, "../", images); err == nil {
		t.Error("path outside the root accepted")
	}
	outside := t.TempDir()
	if err := os.MkdirAll(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(outside, "sub", "x.yaml")
	if err := os.WriteFile(victim, []byte("image: ghcr.io/org/app:1 # {\"$imagepolicy\": \"apps:app:tag\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := UpdateDir(root, "link/sub", images); err == nil {
		t.Error("a path through a symlink leading outside the root was accepted")
	}
	res, _, err = UpdateDir(root, ".", images)
	if err != nil {
		t.Fatal(err)
	}
	for f := range res.FileChanges {
		if strings.HasPrefix(f, "link/") {
			t.Errorf("walking the root followed the symlink to %s", f)
		}
	}
	if data, _ := os.ReadFile(victim); !strings.Contains(string(data), "app:1 #") {
		t.Errorf("a file outside the root was written: %s", data)
	}
}

// FuzzUpdateFile: any input gives an error or bytes that parse, never a panic, and input
// without a change comes back unchanged.
func FuzzUpdateFile(f *testing.F) {
	f.Add("image: a:1 # {\"$imagepolicy\": \"apps:app\"}\n")
	f.Add("- 'x' # {\"$imagepolicy\": \"apps:side:tag\"}\n")
	f.Add("k: \"a\\\"b\" # {\"$imagepolicy\": \"apps:side:name\"}\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, changes, _, err := UpdateFile([]byte(in), images)
		if err != nil {
			return
		}
		if len(changes) == 0 && string(out) != in {
			t.Fatalf("no change but output differs: %q -> %q", in, out)
		}
		if len(changes) > 0 {
			if perr := parses(out); perr != nil {
				t.Fatalf("output does not parse: %v", perr)
			}
		}
	})
}

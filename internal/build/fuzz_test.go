package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func FuzzExpand(f *testing.F) {
	for _, s := range []string{
		"${var}", "$${var}", "${var:=d}", "${a:-${b:=${c}}}", "${var/a/b}", "${var//\\//-}",
		"${#var}", "${var:1:2}", "${var##*.}", "${var%%.*}", "${", "${}", "$$$", "${var:-1:}", "${a:=${",
	} {
		f.Add(s, true)
	}
	vars := map[string]string{"var": "a.b/c", "a": "", "b": "bee"}
	f.Fuzz(func(t *testing.T, s string, strict bool) {
		out, err := Expand(s, vars, strict)
		if err == nil && !strings.Contains(s, "$") && out != s {
			t.Fatalf("text without $ changed: %q → %q", s, out)
		}
	})
}

// FuzzBuildGenerated builds a generated kustomization from fuzzed files next
// to a directory outside the root holding a sentinel object: the build must
// return an error or objects, never panic, and never read the sentinel.
func FuzzBuildGenerated(f *testing.F) {
	f.Add("a.yaml", configMap("a"), "", "")
	f.Add("sub/kustomization.yaml", "resources: [../../outside/cm.yaml]\n", "", "")
	f.Add("kustomization.yaml", "resources: [link.yaml]\n", "link.yaml", "../outside/cm.yaml")
	f.Add("kustomization.yaml", "components: [../outside]\n", "", "")
	f.Add("x.yml", "apiVersion: v1\nkind: List\nitems: []\n", "dir", "../outside")
	f.Fuzz(func(t *testing.T, name, content, link, target string) {
		base := t.TempDir()
		root := filepath.Join(base, "root")
		outside := filepath.Join(base, "outside")
		for _, d := range []string{root, outside} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(outside, "cm.yaml"), []byte(configMap("outside-sentinel")), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(outside, "kustomization.yaml"), []byte("resources: [cm.yaml]\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if name = filepath.Clean(name); !filepath.IsLocal(name) || len(content) > 1<<16 {
			t.Skip()
		}
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Skip()
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Skip()
		}
		if link = filepath.Clean(link); link != "." && filepath.IsLocal(link) && target != "" {
			_ = os.Symlink(target, filepath.Join(root, link))
		}
		for _, path := range []string{"", filepath.Dir(name)} {
			objs, err := Build(t.Context(), root, path, Options{NoRemoteBases: true})
			if err != nil {
				continue
			}
			for _, o := range objs {
				if strings.Contains(o.GetName(), "outside-sentinel") {
					t.Fatalf("read outside the root: %s", ObjectRef(o))
				}
			}
		}
	})
}

func FuzzDecryptFile(f *testing.F) {
	f.Add("x.yaml", []byte("a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n  mac: ENC[x]\n  age: [{enc: x}]\n"))
	f.Add("x.env", []byte("A=ENC[x]\nsops_mac=ENC[x]\nsops_age__list_0__map_enc=x\n"))
	f.Add("x.ini", []byte("[a]\nb = c\n[sops]\nmac = ENC[x]\nage__list_99999999__map_enc = x\n"))
	f.Add("x.json", []byte(`{"data": "x", "sops": {"mac": "ENC[x]"}}`))
	d, err := NewDecryptor(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		_, _ = d.DecryptFile(t.Context(), name, data)
	})
}

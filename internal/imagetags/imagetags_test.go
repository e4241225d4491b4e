package imagetags

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestStoreSurvivesRestart(t *testing.T) {
	root := t.TempDir()
	key := types.NamespacedName{Namespace: "apps", Name: "podinfo"}
	s, err := New(root, 10)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Set(key, []string{"1.1.0", "1.0.0", "1.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.List) != 2 || got.Revision != Revision([]string{"1.0.0", "1.1.0"}) {
		t.Fatalf("Set = %+v", got)
	}
	data, err := os.ReadFile(filepath.Join(root, "apps", "podinfo", "tags.txt"))
	if err != nil || string(data) != "1.0.0\n1.1.0\n" {
		t.Fatalf("tags.txt = %q, %v", data, err)
	}
	again, err := New(root, 10)
	if err != nil {
		t.Fatal(err)
	}
	read, err := again.Get(key)
	if err != nil || read.Revision != got.Revision {
		t.Fatalf("after restart: %+v, %v", read, err)
	}
	if err := again.Delete(key); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Get(key); err == nil {
		t.Fatal("tags still there after Delete")
	}
}

func TestStoreBounds(t *testing.T) {
	s, err := New(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: "a", Name: "b"}
	cases := map[string][]string{
		"too many": {"a", "b", "c", "d"},
		"newline":  {"a\nb"},
		"empty":    {""},
		"long":     {fmt.Sprintf("%0129d", 0)},
	}
	for name, tags := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := s.Set(key, tags); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if _, err := s.Set(types.NamespacedName{Namespace: "..", Name: "x"}, []string{"a"}); err == nil {
		t.Fatal("'..' namespace accepted")
	}
}

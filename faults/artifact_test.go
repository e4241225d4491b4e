//go:build faults

package faults_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/weirgitops/weir/internal/source/oci"
	"github.com/weirgitops/weir/internal/testenv/ociregistry"
)

// tarEntry is one entry of a hand-made layer.
type tarEntry struct {
	hdr     tar.Header
	content io.Reader
}

// layer writes entries as a gzip tar, compressed fast: the bombs are large before compression.
func layer(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if e.content != nil {
			if _, err := io.Copy(tw, e.content); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func file(name, content string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(content))}, content: bytes.NewReader([]byte(content))}
}

// zeros reads n zero bytes.
type zeros int64

func (z *zeros) Read(p []byte) (int, error) {
	if *z <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), int64(*z))
	clear(p[:n])
	*z -= zeros(n)
	return int(n), nil
}

// artifactMaxSize is the --artifact-max-size of the artifact case: the bomb expands far beyond.
const artifactMaxSize = 64 << 20

// hostileArtifactCases are OCI layers a registry may serve; each must be refused with a message
// naming the entry or the limit.
var hostileArtifactCases = []struct {
	name   string
	layer  func(t *testing.T, w *world) []byte
	reason string
	names  []string
}{
	{name: "tar-slip", names: []string{"../../../../escaped.yaml"}, layer: func(t *testing.T, _ *world) []byte {
		return layer(t, file("ok.yaml", configMap("tar-slip", "bad")), file("../../../../escaped.yaml", "escaped"))
	}},
	{name: "absolute-entry", names: []string{"escaped-abs.yaml"}, layer: func(t *testing.T, w *world) []byte {
		return layer(t, file("ok.yaml", configMap("absolute-entry", "bad")), file(w.base+"/escaped-abs.yaml", "escaped"))
	}},
	{name: "hard-link", names: []string{"link.yaml"}, layer: func(t *testing.T, w *world) []byte {
		return layer(t, file("ok.yaml", configMap("hard-link", "bad")),
			tarEntry{hdr: tar.Header{Name: "link.yaml", Typeflag: tar.TypeLink, Linkname: w.Canary()}})
	}},
	{name: "write-through-symlink", names: []string{"dir"}, layer: func(t *testing.T, w *world) []byte {
		return layer(t, tarEntry{hdr: tar.Header{Name: "dir", Typeflag: tar.TypeSymlink, Linkname: w.base}},
			file("dir/escaped-link.yaml", "escaped"), file("ok.yaml", configMap("write-through-symlink", "bad")))
	}},
	{name: "device", names: []string{"null"}, layer: func(t *testing.T, _ *world) []byte {
		return layer(t, file("ok.yaml", configMap("device", "bad")),
			tarEntry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3}})
	}},
	{name: "fifo", names: []string{"pipe"}, layer: func(t *testing.T, _ *world) []byte {
		return layer(t, file("ok.yaml", configMap("fifo", "bad")), tarEntry{hdr: tar.Header{Name: "pipe", Typeflag: tar.TypeFifo}})
	}},
	{name: "decompression-bomb", names: []string{fmt.Sprint(artifactMaxSize)}, layer: func(t *testing.T, _ *world) []byte {
		z := zeros(4 * artifactMaxSize)
		return layer(t, file("ok.yaml", configMap("decompression-bomb", "bad")),
			tarEntry{hdr: tar.Header{Name: "bomb.bin", Typeflag: tar.TypeReg, Size: int64(z)}, content: &z})
	}},
	{name: "million-files", names: []string{"entries"}, layer: func(t *testing.T, _ *world) []byte {
		entries := []tarEntry{file("ok.yaml", configMap("million-files", "bad"))}
		for i := range 1_000_000 {
			entries = append(entries, tarEntry{hdr: tar.Header{Name: fmt.Sprintf("f/%d", i), Typeflag: tar.TypeReg}})
		}
		return layer(t, entries...)
	}},
}

// TestHostileArtifacts serves OCI artifacts that try to write outside the directory they are
// unpacked into (tar-slip, absolute names, hard links, writing through a symlink), special
// files (a device, a FIFO), a decompression bomb and a million tiny files, each where an
// OCIRepository had a good artifact that a Kustomization applied.
// Oracles: each OCIRepository reports Ready=False naming the entry or the limit and keeps its
// last artifact; its Kustomization keeps the last good state; nothing appears outside the
// unpack directory (no escaped file next to the canary, the canary file unchanged); peak memory
// grows by less than 256 MiB; the canary never leaks; a good artifact pushed afterwards is
// applied.
func TestHostileArtifacts(t *testing.T) {
	w := newWorld(t)
	reg := ociregistry.New(t, ociregistry.Options{})
	ks := map[string]*kustomizev1.Kustomization{}
	repos := map[string]*sourcev1.OCIRepository{}
	for _, c := range hostileArtifactCases {
		reg.PushFiles(t, c.name, "latest", map[string]string{"cm.yaml": configMap(c.name, "good")}, oci.Metadata{Source: "faults", Revision: "good"})
		repos[c.name] = &sourcev1.OCIRepository{ObjectMeta: metav1.ObjectMeta{Name: c.name}, Spec: sourcev1.OCIRepositorySpec{
			URL: reg.URL(c.name), Reference: &sourcev1.OCIRepositoryRef{Tag: "latest"}, Insecure: true,
			Interval: metav1.Duration{Duration: time.Hour},
		}}
		w.create(repos[c.name])
		ks[c.name] = w.kustomization(c.name, c.name, "./", func(k *kustomizev1.Kustomization) { k.Spec.SourceRef.Kind = sourcev1.OCIRepositoryKind })
	}
	proc := w.start([]string{"--artifact-max-size", fmt.Sprint(artifactMaxSize)})
	before := map[string]applied{}
	artifacts := map[string]string{}
	for _, c := range hostileArtifactCases {
		w.waitReady(ks[c.name], 2*time.Minute)
		before[c.name] = w.lastGood(ks[c.name])
		w.waitReady(repos[c.name], time.Minute)
		artifacts[c.name] = repos[c.name].Status.Artifact.Digest
	}
	baseRSS := proc.peakRSS(t)
	baseFiles := dirNames(t, w.base)

	for _, c := range hostileArtifactCases {
		reg.PushContent(t, c.name, "latest", c.layer(t, w), oci.Metadata{Source: "faults", Revision: "hostile"})
		env.RequestReconcile(t, repos[c.name])
	}
	for _, c := range hostileArtifactCases {
		msg := w.waitCondition(repos[c.name], meta.ReadyCondition, metav1.ConditionFalse, "", 3*time.Minute, c.names...)
		t.Logf("%s: %s", c.name, msg)
		if got := repos[c.name].Status.Artifact; got == nil || got.Digest != artifacts[c.name] {
			t.Errorf("%s: the last good artifact was not kept: %+v", c.name, got)
		}
		w.assertKept(ks[c.name], before[c.name])
	}
	if got := dirNames(t, w.base); !slices.Equal(got, baseFiles) {
		t.Errorf("files appeared next to the artifact store: %v, was %v", got, baseFiles)
	}
	if b, err := os.ReadFile(w.Canary()); err != nil || string(b) != w.canary+"\n" {
		t.Errorf("the canary file changed: %q %v", b, err)
	}
	if rss := proc.peakRSS(t); rss > baseRSS+256<<20 {
		t.Errorf("peak RSS grew from %d MiB to %d MiB on hostile artifacts", baseRSS>>20, rss>>20)
	}

	for _, c := range hostileArtifactCases {
		reg.PushFiles(t, c.name, "latest", map[string]string{"cm.yaml": configMap(c.name, "repaired")}, oci.Metadata{Source: "faults", Revision: "repaired"})
		env.RequestReconcile(t, repos[c.name])
	}
	for _, c := range hostileArtifactCases {
		w.waitConfigMapValue(c.name, "repaired", 2*time.Minute)
	}
	w.assertNoCanary()
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return n
}

package install

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"

	"github.com/weirgitops/weir/config"
	"github.com/weirgitops/weir/internal/version"
)

// Options choose what the install contains.
type Options struct {
	Namespace          string
	Registry           string
	Version            string
	ImagePullPolicy    string
	WatchAllNamespaces bool
	NetworkPolicy      bool
	LogLevel           string
	ClusterDomain      string
	// ClusterReconciler binds cluster-admin to weir's service account, as Flux does for its
	// appliers; multi-tenant installs turn it off.
	ClusterReconciler bool
	// UI serves the web UI (--ui-addr=:9080) behind the weir-ui Service.
	UI bool
}

// DefaultOptions returns the options of a default install.
func DefaultOptions() Options {
	return Options{
		Namespace:          "flux-system",
		Registry:           "ghcr.io/weirgitops",
		Version:            version.Version,
		WatchAllNamespaces: true,
		NetworkPolicy:      true,
		LogLevel:           "info",
		ClusterDomain:      "cluster.local",
		ClusterReconciler:  true,
	}
}

// Image is the controller image of the install.
func (o Options) Image() string {
	return strings.TrimSuffix(o.Registry, "/") + "/weir:" + o.Version
}

// Render returns the install as one multi-document YAML stream: the CRDs first, then the
// namespace, RBAC, Deployment, Services and NetworkPolicies.
func Render(o Options) ([]byte, error) {
	var buf bytes.Buffer
	crds, err := fs.Glob(config.CRDs, "crd/bases/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list CRDs: %w", err)
	}
	sort.Strings(crds)
	for _, name := range crds {
		data, err := fs.ReadFile(config.CRDs, name)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		writeDoc(&buf, data)
	}
	tmpls, err := fs.Glob(config.Install, "install/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list install templates: %w", err)
	}
	sort.Strings(tmpls)
	data := struct {
		Options
		Image string
	}{o, o.Image()}
	for _, name := range tmpls {
		t, err := template.ParseFS(config.Install, name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return nil, fmt.Errorf("render %s: %w", name, err)
		}
		for _, doc := range strings.Split(out.String(), "\n---\n") {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			writeDoc(&buf, []byte(doc))
		}
	}
	return buf.Bytes(), nil
}

func writeDoc(buf *bytes.Buffer, doc []byte) {
	doc = bytes.TrimPrefix(bytes.TrimSpace(doc), []byte("---\n"))
	buf.WriteString("---\n")
	buf.Write(doc)
	buf.WriteByte('\n')
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// Objects renders the install and decodes it into objects, in apply order.
func Objects(o Options) ([]*unstructured.Unstructured, error) {
	data, err := Render(o)
	if err != nil {
		return nil, err
	}
	return Decode(data)
}

// Decode splits a multi-document YAML stream into objects, skipping empty documents.
func Decode(data []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("decode manifest %d: %w", len(objs)+1, err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
}

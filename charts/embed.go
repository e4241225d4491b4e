// Package charts embeds weir's own Helm chart (charts/weir) and packages it, with the CRDs of
// config/crd/bases as its crds/, into a reproducible .tgz: the same sources give the same bytes
// and digest, so a stack's HelmRelease sees a new chart only when the chart changed.
//
// In the repository, charts/weir/crds is a symbolic link to config/crd/bases, so that
// `helm install weir charts/weir` installs the same CRDs as the packaged chart.
package charts

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"

	"github.com/weirgitops/weir/config"
)

// Name is the chart's name.
const Name = "weir"

//go:embed weir/Chart.yaml weir/values.yaml weir/.helmignore weir/templates/*
var sources embed.FS

// Package returns weir's chart as a .tgz and its version: appVersion when it is a semantic
// version (a release of weir), otherwise Chart.yaml's version with the first 12 hex digits of
// the content's digest as build metadata, so that every change of the chart is a new version.
func Package(appVersion string) ([]byte, string, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(sources, "weir", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := sources.ReadFile(p)
		if err != nil {
			return err
		}
		files[p] = data
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("read chart sources: %w", err)
	}
	crds, err := fs.Glob(config.CRDs, "crd/bases/*.yaml")
	if err != nil {
		return nil, "", fmt.Errorf("list CRDs: %w", err)
	}
	for _, p := range crds {
		data, err := fs.ReadFile(config.CRDs, p)
		if err != nil {
			return nil, "", fmt.Errorf("read %s: %w", p, err)
		}
		files["weir/crds/"+path.Base(p)] = data
	}
	version, err := chartVersion(files, appVersion)
	if err != nil {
		return nil, "", err
	}
	meta := map[string]any{}
	if err := yaml.Unmarshal(files["weir/Chart.yaml"], &meta); err != nil {
		return nil, "", fmt.Errorf("parse Chart.yaml: %w", err)
	}
	meta["version"] = version
	meta["appVersion"] = appVersion
	if files["weir/Chart.yaml"], err = yaml.Marshal(meta); err != nil {
		return nil, "", fmt.Errorf("write Chart.yaml: %w", err)
	}
	data, err := tarGz(files)
	if err != nil {
		return nil, "", err
	}
	return data, version, nil
}

// chartVersion is the version of the packaged chart (see Package).
func chartVersion(files map[string][]byte, appVersion string) (string, error) {
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(appVersion, "v")); err == nil && v.Prerelease() == "" {
		return v.String(), nil
	}
	var meta struct {
		Version string `json:"version"`
	}
	if err := yaml.Unmarshal(files["weir/Chart.yaml"], &meta); err != nil {
		return "", fmt.Errorf("parse Chart.yaml: %w", err)
	}
	h := sha256.New()
	for _, name := range sortedKeys(files) {
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(files[name]))
		h.Write(files[name])
	}
	fmt.Fprintf(h, "appVersion\x00%s", appVersion)
	return meta.Version + "+" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// tarGz writes files, in name order and with a fixed time, as a gzipped tar.
func tarGz(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	epoch := time.Unix(0, 0).UTC()
	for _, name := range sortedKeys(files) {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("write chart archive: %w", err)
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, fmt.Errorf("write chart archive: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("write chart archive: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("write chart archive: %w", err)
	}
	return buf.Bytes(), nil
}

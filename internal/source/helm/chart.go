package helm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"sigs.k8s.io/yaml"
)

var (
	// ErrChartNotFound means the index has no such chart or no version in the range.
	ErrChartNotFound = errors.New("chart not found")
	// ErrValuesFile means a values file is missing or invalid.
	ErrValuesFile = errors.New("values file")
	// ErrInvalidChart means a chart does not load: a bad archive, a path leaving the chart,
	// invalid metadata.
	ErrInvalidChart = errors.New("invalid chart")
)

// ChartVersion finds name in the index at version (a semver range; empty means the latest
// stable version).
func ChartVersion(idx *repo.IndexFile, name, version string) (*repo.ChartVersion, error) {
	if version == "*" {
		version = ""
	}
	cv, err := idx.Get(name, version)
	if err != nil {
		switch {
		case errors.Is(err, repo.ErrNoChartName):
			return nil, fmt.Errorf("%w: no chart name '%s' in the index", ErrChartNotFound, name)
		case errors.Is(err, repo.ErrNoChartVersion):
			return nil, fmt.Errorf("%w: chart '%s' has no versions", ErrChartNotFound, name)
		}
		return nil, fmt.Errorf("%w: no '%s' chart with version matching '%s' found", ErrChartNotFound, name, version)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("%w: chart '%s' version '%s' has no download URL", ErrChartNotFound, name, cv.Version)
	}
	return cv, nil
}

// FetchChart downloads the chart version's archive, checks the index's digest when it gives
// one, and loads it.
func (c Client) FetchChart(ctx context.Context, repoURL string, cv *repo.ChartVersion, limit int64) ([]byte, *chart.Chart, error) {
	u, err := ParseRepositoryURL(repoURL)
	if err != nil {
		return nil, nil, err
	}
	chartURL, err := ResolveChartURL(repoURL, cv.URLs[0])
	if err != nil {
		return nil, nil, err
	}
	if limit <= 0 {
		limit = DefaultMaxChartSize
	}
	data, err := c.get(ctx, chartURL, u.Host, limit)
	if err != nil {
		return nil, nil, err
	}
	if cv.Digest != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, strings.TrimPrefix(cv.Digest, "sha256:")) {
			return nil, nil, fmt.Errorf("%w: chart '%s' version '%s' has digest sha256:%s, the index says %s", ErrInvalidChart, cv.Name, cv.Version, got, cv.Digest)
		}
	}
	ch, err := LoadArchive(data)
	if err != nil {
		return nil, nil, err
	}
	return data, ch, nil
}

// LoadArchive loads a packaged chart; the SDK refuses entries that leave the chart.
func LoadArchive(data []byte) (*chart.Chart, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChart, err)
	}
	return ch, nil
}

// LoadDir loads a chart directory, as a chart in a Git repository or bucket.
func LoadDir(dir string) (*chart.Chart, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChart, err)
	}
	return ch, nil
}

// ValuesFile is a values file's name and content (nil when missing).
type ValuesFile struct {
	Name string
	Data []byte
}

// MergeValues merges values files into the chart's values, in order (later wins, maps
// merged deeply), and makes the result the chart's values.yaml. A file named values.yaml
// stands for the chart's own. Missing files fail unless ignoreMissing.
func MergeValues(ch *chart.Chart, files []ValuesFile, ignoreMissing bool) error {
	merged := map[string]any{}
	for _, f := range files {
		data := f.Data
		if path.Clean(f.Name) == chartutil.ValuesfileName && data == nil {
			data = rawValues(ch)
		}
		if data == nil {
			if ignoreMissing {
				continue
			}
			return fmt.Errorf("%w: no values file found at path '%s'", ErrValuesFile, f.Name)
		}
		var v map[string]any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return fmt.Errorf("%w: failed to parse values file '%s': %w", ErrValuesFile, f.Name, err)
		}
		merged = loader.MergeMaps(merged, v)
	}
	out, err := yaml.Marshal(merged)
	if err != nil {
		return err
	}
	ch.Values = merged
	for _, f := range ch.Raw {
		if f.Name == chartutil.ValuesfileName {
			f.Data = out
			return nil
		}
	}
	ch.Raw = append(ch.Raw, &common.File{Name: chartutil.ValuesfileName, Data: out, ModTime: time.Now()})
	return nil
}

func rawValues(ch *chart.Chart) []byte {
	for _, f := range ch.Raw {
		if f.Name == chartutil.ValuesfileName {
			return f.Data
		}
	}
	return nil
}

// Package writes the chart as a .tgz, as `helm package` does.
func Package(ch *chart.Chart) ([]byte, error) {
	dir, err := os.MkdirTemp("", "weir-chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	p, err := chartutil.Save(ch, dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidChart, err)
	}
	return os.ReadFile(p)
}

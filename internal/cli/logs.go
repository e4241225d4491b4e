package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// logFilter selects controller log lines.
type logFilter struct {
	kind, name, namespace, level string
}

// logEntry is one of weir's JSON log lines, as far as logs prints it.
type logEntry struct {
	ts                      string
	level, msg              string
	kind, name, namespace   string
	controller, reconcileID string
}

func newLogsCommand(g *globals) *cobra.Command {
	var f logFilter
	var all, follow bool
	var fromFile, fluxNS, since, sinceTime string
	var tail int64
	cmd := &cobra.Command{
		Use:   "logs",
		Short: "Display formatted logs for the weir controller",
		Example: `  # Logs of one Kustomization
  weir logs --kind=Kustomization --name=apps

  # Errors of every object, following the stream
  weir logs --level=error --all-namespaces --follow

  # Logs written to a file by a controller running outside the cluster
  weir logs --from-file=weir.log --kind=GitRepository`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !all {
				f.namespace = g.namespace
			}
			if k, ok := kindByName(f.kind); ok {
				f.kind = k.Kind
			}
			ctx := cmd.Context()
			if !follow {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, g.timeout)
				defer cancel()
			}
			if fromFile != "" {
				return logsFromFile(ctx, g.out, fromFile, f, follow)
			}
			if since != "" && sinceTime != "" {
				return fmt.Errorf("only one of since-time / since may be used")
			}
			return logsFromPod(ctx, g, fluxNS, f, follow, since, sinceTime, tail)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "kind", "", "displays errors of a particular toolkit kind e.g GitRepository")
	fl.StringVar(&f.name, "name", "", "specifies the name of the object logs to be displayed")
	fl.StringVar(&f.level, "level", "", "log level, available options are: (debug, info, error)")
	fl.BoolVarP(&follow, "follow", "f", false, "specifies if the logs should be streamed")
	fl.BoolVarP(&all, "all-namespaces", "A", false, "displays logs for objects across all namespaces")
	fl.StringVar(&fluxNS, "flux-namespace", "flux-system", "the namespace where the weir controller runs")
	fl.StringVar(&fromFile, "from-file", "", "read JSON logs from a file instead of the controller Pod")
	fl.StringVar(&since, "since", "", "only return logs newer than a relative duration like 5s, 2m, or 3h; only one of since-time / since may be used")
	fl.StringVar(&sinceTime, "since-time", "", "only return logs after a specific date (RFC3339); only one of since-time / since may be used")
	fl.Int64Var(&tail, "tail", -1, "lines of recent log file to display")
	return cmd
}

// parseLogLine decodes one JSON log line; ok is false for lines that are not JSON objects.
func parseLogLine(line []byte) (logEntry, bool) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return logEntry{}, false
	}
	str := func(k string) string { s, _ := m[k].(string); return s }
	e := logEntry{level: str("level"), msg: str("msg"), name: str("name"), namespace: str("namespace"),
		controller: str("controller"), reconcileID: str("reconcileID")}
	switch ts := m["ts"].(type) {
	case string:
		e.ts = ts
	case float64:
		sec, frac := math.Modf(ts)
		e.ts = time.Unix(int64(sec), int64(frac*1e9)).UTC().Format("2006-01-02T15:04:05.000Z")
	}
	// controller-runtime adds "<Kind>": {"name", "namespace"}.
	for k, v := range m {
		obj, ok := v.(map[string]any)
		if !ok {
			continue
		}
		kk, known := kindByName(k)
		if !known {
			continue
		}
		e.kind = kk.Kind
		if n, _ := obj["name"].(string); n != "" && e.name == "" {
			e.name = n
		}
		if n, _ := obj["namespace"].(string); n != "" && e.namespace == "" {
			e.namespace = n
		}
	}
	if e.kind == "" && e.controller != "" {
		if k, ok := kindByName(e.controller); ok {
			e.kind = k.Kind
		}
	}
	return e, true
}

func (f logFilter) match(e logEntry) bool {
	switch {
	case f.kind != "" && !strings.EqualFold(f.kind, e.kind):
		return false
	case f.name != "" && f.name != e.name:
		return false
	case f.namespace != "" && e.namespace != "" && f.namespace != e.namespace:
		return false
	case f.level != "" && !strings.EqualFold(f.level, e.level):
		return false
	}
	return true
}

// format prints an entry as flux does: "<ts> <level> <Kind>/<name>.<namespace> - <msg>".
func (e logEntry) format() string {
	if e.kind == "" && e.name == "" {
		return fmt.Sprintf("%s %s %s", e.ts, e.level, e.msg)
	}
	return fmt.Sprintf("%s %s %s/%s.%s - %s", e.ts, e.level, e.kind, e.name, e.namespace, e.msg)
}

// copyLogs filters and formats the JSON lines of r; with follow it keeps reading new lines
// (a file that grows) until ctx ends.
func copyLogs(ctx context.Context, w io.Writer, r io.Reader, f logFilter, follow bool) error {
	br := bufio.NewReaderSize(r, 64*1024)
	var partial []byte
	for {
		line, err := br.ReadBytes('\n')
		partial = append(partial, line...)
		if err == nil || (err == io.EOF && len(partial) > 0 && !follow) {
			if e, ok := parseLogLine(partial); ok && f.match(e) {
				fmt.Fprintln(w, e.format())
			}
			partial = partial[:0]
		}
		if err == io.EOF {
			if !follow {
				return nil
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(pollInterval):
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("read logs: %w", err)
		}
	}
}

func logsFromFile(ctx context.Context, w io.Writer, path string, f logFilter, follow bool) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	defer file.Close()
	return copyLogs(ctx, w, file, f, follow)
}

// logsFromPod streams the logs of the manager container of the weir Deployment's Pods.
func logsFromPod(ctx context.Context, g *globals, ns string, f logFilter, follow bool, since, sinceTime string, tail int64) error {
	cfg, err := g.restConfig()
	if err != nil {
		return err
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "weir"}, &dep); err != nil {
		return fmt.Errorf("get deployment %s/weir: %w", ns, err)
	}
	sel, err := metav1.LabelSelectorAsMap(dep.Spec.Selector)
	if err != nil {
		return fmt.Errorf("deployment %s/weir selector: %w", ns, err)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(sel)); err != nil {
		return fmt.Errorf("list pods of deployment %s/weir: %w", ns, err)
	}
	if len(pods.Items) == 0 {
		return fmt.Errorf("deployment %s/weir has no pods", ns)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("create kubernetes client: %w", err)
	}
	opts := &corev1.PodLogOptions{Container: "manager", Follow: follow}
	if tail >= 0 {
		opts.TailLines = &tail
	}
	if since != "" {
		d, err := time.ParseDuration(since)
		if err != nil {
			return fmt.Errorf("invalid --since: %w", err)
		}
		s := int64(d.Seconds())
		opts.SinceSeconds = &s
	}
	if sinceTime != "" {
		t, err := time.Parse(time.RFC3339, sinceTime)
		if err != nil {
			return fmt.Errorf("invalid --since-time: %w", err)
		}
		st := metav1.NewTime(t)
		opts.SinceTime = &st
	}
	for _, p := range pods.Items {
		stream, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, opts).Stream(ctx)
		if err != nil {
			return fmt.Errorf("logs of pod %s/%s: %w", ns, p.Name, err)
		}
		err = copyLogs(ctx, g.out, stream, f, false)
		stream.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
